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

# Resolve "6.1", "6.12" or a full release to the newest installed release.
vhb_resolve_kernel() {
	local want=$1 r
	r=$(vhb_installed_kernels | while read -r k; do
		case $k in
		"$want") echo "$k" ;;
		"$want".*) echo "$k" ;;
		esac
	done | tail -n 1)
	[ -n "$r" ] || return 1
	echo "$r"
}

# The default matrix: the newest installed 6.1 and 6.12 kernels.
vhb_matrix() {
	local s
	for s in 6.1 6.12; do
		vhb_resolve_kernel "$s" || true
	done
}
