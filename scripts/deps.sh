#!/bin/sh
# Installs, on Debian 12, only the packages usm's build and tests need that
# are missing. Safe to run again: with nothing missing it changes nothing.
set -eu

# sasl2-bin (saslpasswd2) and the SASL modules are for the memcached store's
# SASL test: PLAIN and sasldb are in libsasl2-modules*, which libsasl2-2 only
# recommends, and recommends are not installed here.
packages="
  build-essential pkg-config meson ninja-build python3
  libcmocka-dev libjson-c-dev libxxhash-dev liblz4-dev libzstd-dev
  libdw-dev libelf-dev libinih-dev liburing-dev libcapstone-dev
  libmemcached-dev memcached sasl2-bin libsasl2-modules libsasl2-modules-db
  qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod
  sqlite3 xz-utils
  linux-source-6.1 ccache bc flex bison
  clang llvm-14-dev g++ valgrind duktape-dev libstb-dev
  chromium
"

missing=""
for p in $packages; do
	# "install ok installed" is the only state that means usable
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: everything is installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps: missing:$missing; run this script as root" >&2
		exit 1
	fi
else
	SUDO=""
fi

echo "deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
