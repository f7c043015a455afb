#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh SECONDS OUTDIR: the guest side of make soak (scripts/soak), with
# the module loaded.  Runs the hostile-input suites side by side, each in a
# loop, until SECONDS have passed: the ring fuzzer, worker churn, SIGKILL
# rounds and the failing backends, every one with verified I/O of its own.
# Each iteration has its own seed (from VHB_SEED, else the clock), printed
# with its result; its output goes to OUTDIR/SUITE.N.log.  Exits 1 if any
# iteration failed.
#
# Side by side, no two suites may share a backend: the churn suite runs on
# null_blk and a file, not brd; the kill rounds skip their per-round
# module refcount check (the others hold devices: VHB_SOAK) and the module
# unload, which vm-run does at the end.
set -euo pipefail

dur=${1:?usage: soak.sh SECONDS OUTDIR}
out=${2:?usage: soak.sh SECONDS OUTDIR}
src=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$src/../.." && pwd)/build/tests/kselftest
base=${VHB_SEED:-$(($(date +%s%N) & 0xffffffffffff))}
export VHB_SOAK=1
mkdir -p "$out"
rm -f "$out"/*.log "$out"/failed
start=$SECONDS
end=$((start + dur))

elapsed() { printf '%d:%02d' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)); }

# loop NAME VARIANTS PROGRAM [ARG...]: PROGRAM again and again until the
# end, each time for a share of the time left over its VARIANTS cases.
loop() {
	local name=$1 variants=$2 i=0 seed left ms rc
	shift 2
	while [ $SECONDS -lt $end ]; do
		i=$((i + 1))
		seed=$(printf '%#x' $((base + i * 0x10000 + ${#name})))
		left=$((end - SECONDS))
		ms=$((left * 1000 / variants))
		[ $ms -le 30000 ] || ms=30000
		[ $ms -ge 3000 ] || ms=3000
		rc=0
		VHB_SEED=$seed VHB_TEST_MS=$ms timeout --kill-after=10 $((ms * variants / 1000 * 3 + 300)) \
			"$bin/$1" "${@:2}" >"$out/$name.$i.log" 2>&1 || rc=$?
		if [ $rc -eq 0 ]; then
			echo "soak: [$(elapsed)] $name #$i ok (VHB_SEED=$seed, ${ms} ms a case)"
		else
			echo "soak: [$(elapsed)] $name #$i FAILED, exit $rc (VHB_SEED=$seed): $out/$name.$i.log"
			grep -E '^# .*(Expected|:[0-9]+:)' "$out/$name.$i.log" | sed -n '1,5s/^/soak:   /p'
			echo "$name #$i VHB_SEED=$seed" >>"$out/failed"
		fi
	done
}

echo "soak: $dur s of the hostile-input suites side by side in $(uname -r); base VHB_SEED=$(printf '%#x' "$base")"
loop fuzz 4 blk_fuzz_test &
loop churn 4 blk_churn_test -v null_blk -v file &
loop kill 3 blk_kill_test -T module_unloads &
loop ioerr 4 blk_ioerr_test &
wait
[ ! -s "$out/failed" ]
