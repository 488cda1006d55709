#!/bin/bash
# Builds Debian's linux-source-6.1 with the Memorizer patch series and the
# config fragment into a directory named by a hash of the series, its
# patches, the fragment and this script, then prints that directory. Its
# bzImage is DIR/linux/arch/x86/boot/bzImage and DIR/linux is a tree that
# external modules build against (make -C DIR/linux M=...). A second run with
# nothing changed finds DIR/done and does nothing; a changed patch gets a new
# directory, and ccache (with CCACHE_BASEDIR) makes its unchanged objects hits.
#
#   build.sh [--print-hash]    MEMORIZER_CACHE: where the directories live
#                              (default ~/.cache/usm/memorizer)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
cache=${MEMORIZER_CACHE:-$HOME/.cache/usm/memorizer}

die() { echo "memorizer/build.sh: $*" >&2; exit 2; }

# Everything the kernel depends on, in the series' order.
inputs() {
	echo "$here/build.sh" "$here/config.fragment" "$here/series"
	grep -v -e '^#' -e '^$' "$here/series" | sed "s|^|$here/|"
}
stamp=$(cat $(inputs) | sha256sum | cut -c1-16)
if [ "${1:-}" = --print-hash ]; then echo "$stamp"; exit 0; fi
[ $# -eq 0 ] || die "unknown argument '$1'"

dir=$cache/$stamp
if [ -f "$dir/done" ]; then echo "$dir"; exit 0; fi

# Two test runs (two worktrees, two builds) may want the same directory:
# one builds it, the other waits and finds it done.
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/done" ]; then echo "$dir"; exit 0; fi

[ -r "$tarball" ] || die "$tarball missing (run scripts/deps.sh: linux-source-6.1)"
for tool in ccache bc flex bison patch make gcc flock; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done

rm -rf "$dir"
mkdir -p "$dir"
log=$dir/build.log
echo "memorizer/build.sh: building $dir (log $log)" >&2
tar -C "$dir" -xf "$tarball"
mv "$dir/linux-source-6.1" "$dir/linux"
src=$dir/linux

while read -r p; do
	case $p in ''|'#'*) continue ;; esac
	patch -d "$src" -p1 --quiet --forward <"$here/$p" >>"$log" 2>&1 \
		|| die "$p does not apply (see $log)"
done <"$here/series"

# Fixed build identity and a cache base directory: the same source in
# another stamped directory compiles to the same ccache entries.
export CCACHE_BASEDIR=$cache CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros,include_file_mtime
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 1970' KBUILD_BUILD_USER=usm KBUILD_BUILD_HOST=usm
jobs=$(nproc)
mk() { make -C "$src" -j"$jobs" CC='ccache gcc' "$@" >>"$log" 2>&1; }
mk tinyconfig || die "tinyconfig failed (see $log)"
(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$here/config.fragment") >>"$log" 2>&1 \
	|| die "merge_config failed (see $log)"
mk olddefconfig || die "olddefconfig failed (see $log)"
# merge_config only warns when a symbol did not stick: a fragment line the
# kernel refused is an error here, or the guest would boot a different kernel.
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$src/.config" || die "config: '$line' did not stick (see $log)" ;;
	'# CONFIG_'*' is not set')
		sym=${line#\# }; sym=${sym%% *}
		! grep -q "^$sym=" "$src/.config" || die "config: $sym should be unset" ;;
	esac
done <"$here/config.fragment"
# modules: Module.symvers, which external modules resolve symbols against
mk bzImage modules || die "kernel build failed (see $log: tail -50)"
touch "$dir/done"
echo "$dir"
