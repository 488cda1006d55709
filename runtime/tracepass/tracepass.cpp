// The usm trace pass: a clang 14 pass plugin (usm cc loads it with
// -fpass-plugin) that gives every load and store of the program's own code
// an inline counting fast path, and calls the runtime only when that path
// cannot count (runtime/trace/inline_abi.h has the contract, docs/trace.md
// the design). It runs at the end of the optimizer, before AddressSanitizer,
// whose load and store instrumentation usm cc then turns off: ASan still
// registers globals and modules and turns memcpy/memmove/memset into the
// counting __asan_mem* calls, so nothing is counted twice.
//
// C++ because LLVM 14's C API has no pass-plugin registration and no
// analyses (underlying object, attributes by kind are there but clumsy);
// one file, one job.
#include "inline_abi.h"

#include "llvm/Analysis/ValueTracking.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

#include <vector>

using namespace llvm;

namespace {

struct Site {
	Instruction *at;
	Value *ptr;
	bool write;
};

// What AddressSanitizer would count: every load, store, atomic (as a
// store), masked load or store and byval argument of a function built
// with -fsanitize=address, except what can never be an object: the
// thread's own stack (anything based on an alloca) and other address
// spaces. memcpy and friends stay with ASan (its __asan_mem* calls).
static void add_site(std::vector<Site> &sites, Instruction *at, Value *ptr, bool write)
{
	if (at->hasMetadata("nosanitize"))
		return;
	if (cast<PointerType>(ptr->getType()->getScalarType())->getAddressSpace() != 0)
		return;
	if (ptr->isSwiftError())
		return;
	if (isa<AllocaInst>(getUnderlyingObject(ptr)))
		return;
	sites.push_back({at, ptr, write});
}

static void collect(Function &f, std::vector<Site> &sites)
{
	for (BasicBlock &bb : f)
		for (Instruction &i : bb) {
			if (auto *ld = dyn_cast<LoadInst>(&i))
				add_site(sites, &i, ld->getPointerOperand(), false);
			else if (auto *st = dyn_cast<StoreInst>(&i))
				add_site(sites, &i, st->getPointerOperand(), true);
			else if (auto *rmw = dyn_cast<AtomicRMWInst>(&i))
				add_site(sites, &i, rmw->getPointerOperand(), true);
			else if (auto *cx = dyn_cast<AtomicCmpXchgInst>(&i))
				add_site(sites, &i, cx->getPointerOperand(), true);
			else if (auto *ii = dyn_cast<IntrinsicInst>(&i)) {
				if (ii->getIntrinsicID() == Intrinsic::masked_load)
					add_site(sites, &i, ii->getArgOperand(0), false);
				else if (ii->getIntrinsicID() == Intrinsic::masked_store)
					add_site(sites, &i, ii->getArgOperand(1), true);
			} else if (auto *cb = dyn_cast<CallBase>(&i)) {
				for (unsigned a = 0; a < cb->arg_size(); a++)
					if (cb->isByValArgument(a))
						add_site(sites, &i, cb->getArgOperand(a), false);
			}
		}
}

struct Runtime {
	Type *i32, *i64, *i8p;
	GlobalVariable *on, *block, *base;
	FunctionCallee load, store, thread;
};

static Runtime declare_runtime(Module &m, uint64_t nsites)
{
	LLVMContext &c = m.getContext();
	Runtime rt;

	rt.i32 = Type::getInt32Ty(c);
	rt.i64 = Type::getInt64Ty(c);
	rt.i8p = Type::getInt8PtrTy(c);
	rt.on = cast<GlobalVariable>(m.getOrInsertGlobal(USM_TRACE_ON, rt.i32));
	rt.block = cast<GlobalVariable>(m.getOrInsertGlobal(USM_TRACE_BLOCK, rt.i8p));
	rt.block->setThreadLocalMode(GlobalValue::InitialExecTLSModel);
	rt.load = m.getOrInsertFunction(USM_TRACE_LOAD, Type::getVoidTy(c), rt.i64, rt.i64);
	rt.store = m.getOrInsertFunction(USM_TRACE_STORE, Type::getVoidTy(c), rt.i64, rt.i64);
	rt.thread = m.getOrInsertFunction(USM_TRACE_THREAD, Type::getVoidTy(c));
	// This module's first site number, set by its constructor. Until then
	// (code run by an earlier constructor) sites have no slot. The
	// "__llvm" section keeps ASan from making it a traced global.
	rt.base = new GlobalVariable(m, rt.i64, false, GlobalValue::InternalLinkage,
	                             ConstantInt::get(rt.i64, USM_TRACE_MAX_SITES),
	                             "__usm_trace_base");
	rt.base->setSection("__llvm_usm_trace");
	FunctionType *ctor_ty = FunctionType::get(Type::getVoidTy(c), false);
	Function *ctor = Function::Create(ctor_ty, GlobalValue::InternalLinkage,
	                                  "usm_trace.module_ctor", m);
	IRBuilder<> b(BasicBlock::Create(c, "", ctor));
	FunctionCallee reg = m.getOrInsertFunction(USM_TRACE_REGISTER, rt.i64, rt.i64);
	b.CreateStore(b.CreateCall(reg, {ConstantInt::get(rt.i64, nsites)}), rt.base);
	b.CreateRetVoid();
	appendToGlobalCtors(m, ctor, 1);
	return rt;
}

static LoadInst *load_at(IRBuilder<> &b, Type *ty, Value *base8, unsigned off)
{
	Value *p = b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), base8, off);
	return b.CreateAlignedLoad(ty, b.CreateBitCast(p, ty->getPointerTo()), Align(4));
}

// The code of inline_abi.h before site k's access.
static void instrument(const Runtime &rt, const Site &s, uint64_t k)
{
	Instruction *at = s.at;
	BasicBlock *head = at->getParent();
	Function *f = head->getParent();
	LLVMContext &c = f->getContext();
	BasicBlock *tail = head->splitBasicBlock(at->getIterator(), "usm.cont");
	auto block = [&](const char *name) { return BasicBlock::Create(c, name, f, tail); };
	BasicBlock *traced = block("usm.on"), *init = block("usm.init"), *look = block("usm.look"),
	           *gen = block("usm.gen"), *hit = block("usm.hit"), *miss = block("usm.miss"),
	           *slow = block("usm.slow");
	IRBuilder<> b(head->getTerminator());
	const size_t slot_size = sizeof(struct usm_trace_slot);

	b.SetCurrentDebugLocation(at->getDebugLoc());
	Value *addr = b.CreatePtrToInt(s.ptr, rt.i64);
	LoadInst *on = b.CreateAlignedLoad(rt.i32, rt.on, Align(4));
	on->setAtomic(AtomicOrdering::Monotonic);
	// Marked unlikely: the backend then moves the counting code out of the
	// program's own path, which a build that is not traced runs as is
	// but for this test and branch (measured: docs/performance.md).
	MDBuilder md(c);
	b.CreateCondBr(b.CreateICmpNE(on, ConstantInt::get(rt.i32, 0)), traced, tail,
	               md.createBranchWeights(1, 1000));
	head->getTerminator()->eraseFromParent();

	b.SetInsertPoint(traced);
	if (k >= USM_TRACE_MAX_SITES) { // no slot: the slow path only
		b.CreateBr(slow);
		for (BasicBlock *unused : {init, look, gen, hit, miss})
			unused->eraseFromParent();
		b.SetInsertPoint(slow);
		b.CreateCall(s.write ? rt.store : rt.load,
		             {addr, ConstantInt::get(rt.i64, 2 * USM_TRACE_MAX_SITES)});
		b.CreateBr(tail);
		return;
	}
	Value *blk0 = b.CreateAlignedLoad(rt.i8p, rt.block, Align(8));
	Value *site = b.CreateAdd(b.CreateAlignedLoad(rt.i64, rt.base, Align(8)),
	                          ConstantInt::get(rt.i64, k));
	b.CreateCondBr(b.CreateIsNull(blk0), init, look, md.createBranchWeights(1, 1000));

	// A thread's first access: the runtime makes its block (none when it
	// is not ready: then nothing is counted, as in outline mode). A
	// separate call, so that the site's own call stays one (one IP).
	b.SetInsertPoint(init);
	b.CreateCall(rt.thread, {});
	Value *blk1 = b.CreateAlignedLoad(rt.i8p, rt.block, Align(8));
	b.CreateCondBr(b.CreateIsNull(blk1), tail, look);

	b.SetInsertPoint(look);
	PHINode *blk = b.CreatePHI(rt.i8p, 2);
	blk->addIncoming(blk0, traced);
	blk->addIncoming(blk1, init);
	Value *off = b.CreateMul(b.CreateAdd(site, ConstantInt::get(rt.i64, 1)),
	                         ConstantInt::get(rt.i64, slot_size));
	Value *slot = b.CreateInBoundsGEP(b.getInt8Ty(), blk, off);
	Value *start = load_at(b, rt.i64, slot, offsetof(struct usm_trace_slot, start));
	Value *len = b.CreateZExt(load_at(b, rt.i32, slot, offsetof(struct usm_trace_slot, len)),
	                          rt.i64);
	b.CreateCondBr(b.CreateICmpULT(b.CreateSub(addr, start), len), gen, miss,
	               md.createBranchWeights(1000, 1));

	b.SetInsertPoint(gen);
	Type *i32p = rt.i32->getPointerTo(), *i64p = rt.i64->getPointerTo();
	Value *gen_at = load_at(b, i32p, slot, offsetof(struct usm_trace_slot, gen_at));
	LoadInst *now = b.CreateAlignedLoad(rt.i32, gen_at, Align(4));
	now->setAtomic(AtomicOrdering::Monotonic);
	Value *then = load_at(b, rt.i32, slot, offsetof(struct usm_trace_slot, gen));
	b.CreateCondBr(b.CreateICmpEQ(now, then), hit, miss, md.createBranchWeights(1000, 1));

	// The counter is this thread's only: a plain add. Relaxed atomics so
	// that a dump reading it from another thread never sees it torn.
	b.SetInsertPoint(hit);
	Value *count = load_at(b, i64p, slot, offsetof(struct usm_trace_slot, count));
	LoadInst *v = b.CreateAlignedLoad(rt.i64, count, Align(8));
	v->setAtomic(AtomicOrdering::Monotonic);
	StoreInst *st = b.CreateAlignedStore(b.CreateAdd(v, ConstantInt::get(rt.i64, 1)), count,
	                                     Align(8));
	st->setAtomic(AtomicOrdering::Monotonic);
	b.CreateBr(tail);

	b.SetInsertPoint(miss);
	Value *lo = load_at(b, rt.i64, blk, offsetof(struct usm_trace_block, stack_lo));
	Value *stack_len = load_at(b, rt.i64, blk, offsetof(struct usm_trace_block, stack_len));
	b.CreateCondBr(b.CreateICmpULT(b.CreateSub(addr, lo), stack_len), tail, slow);

	b.SetInsertPoint(slow);
	b.CreateCall(s.write ? rt.store : rt.load, {addr, site});
	b.CreateBr(tail);
}

struct UsmTracePass : PassInfoMixin<UsmTracePass> {
	PreservedAnalyses run(Module &m, ModuleAnalysisManager &)
	{
		std::vector<Site> sites;

		for (Function &f : m)
			if (!f.isDeclaration() && f.hasFnAttribute(Attribute::SanitizeAddress))
				collect(f, sites);
		if (sites.empty())
			return PreservedAnalyses::all();
		Runtime rt = declare_runtime(m, sites.size());
		for (uint64_t k = 0; k < sites.size(); k++)
			instrument(rt, sites[k], k);
		return PreservedAnalyses::none();
	}
};

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo llvmGetPassPluginInfo()
{
	return {LLVM_PLUGIN_API_VERSION, "usm-trace", "1", [](PassBuilder &pb) {
		        pb.registerOptimizerLastEPCallback(
		                [](ModulePassManager &mpm, OptimizationLevel) {
			                mpm.addPass(UsmTracePass());
		                });
		        pb.registerPipelineParsingCallback(
		                [](StringRef name, ModulePassManager &mpm,
		                   ArrayRef<PassBuilder::PipelineElement>) {
			                if (name != "usm-trace")
				                return false;
			                mpm.addPass(UsmTracePass());
			                return true;
		                });
	        }};
}
