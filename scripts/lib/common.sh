# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the scripts in scripts/: where things are, which kernels
# make up the test matrix.  Source it; it defines functions and variables only.

VHB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VHB_BUILD=${VHB_BUILD:-$VHB_TOP/build}

vhb_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 125; }

# Every kernel release with headers and an image installed, newest last.
vhb_installed_kernels() {
	local d r
	for d in /lib/modules/*/; do
		r=${d%/}; r=${r##*/}
		[ -e "/lib/modules/$r/build/Makefile" ] && [ -f "/boot/vmlinuz-$r" ] &&
			echo "$r"
	done | sort -V
}

# The debug kernel (scripts/debug-kernel), built from Debian's source into a
# cache outside the clone, in a directory named after a hash of what makes
# it: the source package's version, the compiler, the config fragment and the
# build script.
VHB_KCACHE=${VHB_KCACHE:-/var/cache/vhost-blk}
VHB_LINUX_SRC_TAR=/usr/src/linux-source-6.12.tar.xz
VHB_DEBUG_CONFIG=$VHB_TOP/scripts/lib/debug-kernel.config

vhb_debug_source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo none
}

vhb_debug_dir() {
	local key
	# In a vm-run guest, /var (and dpkg's database) is a tmpfs: vm-run
	# tells the guest where the kernel it booted lives.
	if [ -n "${VHB_DEBUG_DIR:-}" ]; then
		echo "$VHB_DEBUG_DIR"
		return
	fi
	key=$({
		vhb_debug_source_version
		gcc --version 2>/dev/null | sed -n 1p
		cat "$VHB_DEBUG_CONFIG" "$VHB_TOP/scripts/debug-kernel"
	} | sha256sum | cut -c1-16)
	echo "$VHB_KCACHE/debug-kernel/$key"
}

# The release of the debug kernel, if it is built (else status 1).
vhb_debug_release() {
	local d
	d=$(vhb_debug_dir)
	[ -f "$d/done" ] && cat "$d/release"
}

# Where a release's pieces are: the kernel build directory that modules
# build against, the image vm-run boots, the root its modules are installed
# under (what modprobe -d takes).
vhb_kernel_builddir() {
	if [ "$1" = "$(vhb_debug_release)" ]; then
		echo "$(vhb_debug_dir)/linux"
	else
		echo "/lib/modules/$1/build"
	fi
}

vhb_kernel_image() {
	if [ "$1" = "$(vhb_debug_release)" ]; then
		echo "$(vhb_debug_dir)/linux/vmlinux"
	else
		echo "/boot/vmlinuz-$1"
	fi
}

vhb_kernel_modroot() {
	if [ "$1" = "$(vhb_debug_release)" ]; then
		echo "$(vhb_debug_dir)/mod"
	else
		echo /
	fi
}

# Resolve "6.1", "6.12" or a full release to the newest installed release;
# "6.12-debug" (or "debug") to the debug kernel, when it is built.
vhb_resolve_kernel() {
	local want=$1 r
	case $want in
	6.12-debug | debug | "$(vhb_debug_release)")
		vhb_debug_release
		return
		;;
	esac
	r=$(vhb_installed_kernels | while read -r k; do
		case $k in
		"$want") echo "$k" ;;
		"$want".*) echo "$k" ;;
		esac
	done | tail -n 1)
	[ -n "$r" ] || return 1
	echo "$r"
}

# The default matrix: the newest installed 6.1 and 6.12 kernels, and the
# debug kernel once it is built.
vhb_matrix() {
	local s
	for s in 6.1 6.12 6.12-debug; do
		vhb_resolve_kernel "$s" || true
	done
}

# Whether a release is the debug kernel.
vhb_is_debug() {
	[ "$1" = "$(vhb_debug_release)" ]
}
