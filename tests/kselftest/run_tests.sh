#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every vhost_blk kselftest suite and print TAP: one test point per
# suite, the suite's own output indented with "# " (kselftest's runner
# format).  Runs inside a VM with the module loaded.
#
#   run_tests.sh [-d BUILD_DIR] [SUITE...]
#
# KSFT_SKIP_SUITES (names, space-separated) leaves those suites out of the
# default list.  KSFT_PACKED_SUITES (names) runs those again after the
# others, on packed rings (VBLK_RING=packed), each a test point of its own
# named "SUITE (packed rings)".
set -u
src=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "$src/../.." && pwd)/build/tests/kselftest
if [ "${1:-}" = -d ]; then
	dir=$2
	shift 2
fi
if [ $# -gt 0 ]; then
	suites=("$@")
else
	mapfile -t suites <"$dir/suites"
fi
if [ -n "${KSFT_SKIP_SUITES:-}" ]; then
	kept=()
	for s in "${suites[@]}"; do
		case " $KSFT_SKIP_SUITES " in
		*" $s "*) echo "# $s left out (KSFT_SKIP_SUITES)" ;;
		*) kept+=("$s") ;;
		esac
	done
	suites=("${kept[@]}")
fi

read -r -a packed <<<"${KSFT_PACKED_SUITES:-}"

echo "TAP version 13"
echo "1..$((${#suites[@]} + ${#packed[@]}))"
n=0
failed=0
# run SUITE NAME [ENV...]: one test point.
run() {
	local s=$1 name=$2 prog rc t0 timeout=${KSFT_TIMEOUT:-120}
	shift 2
	n=$((n + 1))
	echo "# selftests: vhost_blk: $name"
	# A built program (TEST_GEN_PROGS), or a script of this directory (TEST_PROGS).
	prog=$dir/$s
	[ -x "$prog" ] || [ ! -x "$src/$s" ] || prog=$src/$s
	t0=$SECONDS
	env "$@" timeout --kill-after=5 "$timeout" "$prog" 2>&1 | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	echo "# selftests: vhost_blk: $name: $((SECONDS - t0)) s"
	case $rc in
	0) echo "ok $n selftests: vhost_blk: $name" ;;
	4) echo "ok $n selftests: vhost_blk: $name # SKIP" ;;
	124) echo "not ok $n selftests: vhost_blk: $name # TIMEOUT ${timeout} seconds"; failed=1 ;;
	*) echo "not ok $n selftests: vhost_blk: $name # exit=$rc"; failed=1 ;;
	esac
}
for s in "${suites[@]}"; do
	run "$s" "$s"
done
for s in "${packed[@]}"; do
	run "$s" "$s (packed rings)" VBLK_RING=packed
done
exit $failed
