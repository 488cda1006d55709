# The entry points a newcomer needs: make, make kmod, make check, make install.
# Userspace builds with Meson + Ninja, kernel modules with Kbuild.

BUILD        ?= build
CHECK_BUILD  ?= build-check
PREFIX       ?= /usr/local
# Debian's packaged headers, newest first; override with KDIR=/path.
KDIR         ?= $(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
MESON_FLAGS  ?= -Dwerror=true
SANITIZE     := -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all
MODULES      := $(patsubst kmod/%/Kbuild,%,$(wildcard kmod/*/Kbuild))

.PHONY: all kmod check check-build install clean distclean help

all: $(BUILD)/build.ninja
	meson compile -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

$(CHECK_BUILD)/build.ninja:
	meson setup $(CHECK_BUILD) $(MESON_FLAGS) $(SANITIZE) -Dfault_injection=true

kmod:
	@test -n "$(KDIR)" || { echo "make: no kernel headers in /usr/src (run scripts/deps.sh or set KDIR)" >&2; exit 1; }
	@for m in $(MODULES); do $(MAKE) -C kmod/$$m KDIR=$(KDIR) || exit 1; done

check-build: $(CHECK_BUILD)/build.ninja
	meson compile -C $(CHECK_BUILD)

# Every test (unit, integration, kernel) under ASan+UBSan; the last line
# counts them as "N passed, N failed".
check: kmod check-build
	@rc=0; meson test -C $(CHECK_BUILD) --print-errorlogs $(TESTFLAGS) || rc=$$?; \
	scripts/test-summary $(CHECK_BUILD)/meson-logs/testlog.json || rc=1; exit $$rc

install: all
	meson configure $(BUILD) -Dprefix=$(abspath $(PREFIX))
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
	@for m in $(MODULES); do $(MAKE) -C kmod/$$m KDIR=$(KDIR) clean >/dev/null || exit 1; done

help:
	@echo "make            build usm, libusm and the tools ($(BUILD)/)"
	@echo "make kmod       build kernel modules against KDIR=$(KDIR)"
	@echo "make check      build with ASan+UBSan and run every test"
	@echo "make install    install to PREFIX=$(PREFIX)"
	@echo "make clean      remove build directories and module objects"
