#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM rig (scripts/vm-run) on one kernel, run on the host:
#   - the guest command's exit status, arguments, working directory,
#     environment, stdout and stderr come back exactly;
#   - a kernel WARNING in the guest fails a run whose command succeeded;
#   - the wall-clock timeout stops a command that never ends (--timeout-test);
#   - in the debug kernel, only this: each detector fails a run, a leak
#     that kmemleak finds after rmmod, a KASAN use-after-free, a lockdep
#     inversion, a sleep in atomic context, a freed active timer
#     (DEBUG_OBJECTS) and a list entry deleted twice (DEBUG_LIST)
#     (rig_bug.ko).
# Prints TAP and a kselftest "Totals" line.
#
#   tests/rig/vm_run_test.sh RELEASE
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
vmrun=$top/scripts/vm-run
krel=${1:?usage: vm_run_test.sh RELEASE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
pass=0
fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
		[ -z "${3:-}" ] || printf '# %s\n' "$3"
	fi
}

. "$top/scripts/lib/common.sh"
debug=
! vhb_is_debug "$krel" || debug=1

echo "TAP version 13"
echo "1..7"

# The debug kernel: each detector fails a run whose command succeeded (one
# boot, rig_bug.ko committing every bug).  The rest of the rig is the same
# in every kernel, and tested in Debian's.
if [ -n "$debug" ]; then
	"$vmrun" --kernel "$krel" --timeout 300 --log "$tmp/bug.log" \
		--module "$top/build/$krel/tests/rig/rig_bug.ko" \
		--module-params bug=leak,uaf,lockdep,sleep,odebug,list -- true >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 123 ]
	ok $? "rig_bug.ko's bugs fail the run (exit 123)" "got $rc; stderr: $(head -c 800 "$tmp/err")"
	grep -q 'rig_bug_alloc+.* \[rig_bug\]' "$tmp/err"
	ok $? "kmemleak finds the object rig_bug.ko leaked, after rmmod" "stderr: $(head -c 800 "$tmp/err")"
	# KFENCE, sampling, may have served that allocation: then it reports.
	grep -qE 'BUG: (KASAN|KFENCE): .*use-after-free.* rig_bug_uaf' "$tmp/err"
	ok $? "KASAN (or KFENCE) reports the use after free" "stderr: $(head -c 800 "$tmp/err")"
	grep -q 'WARNING: possible circular locking dependency detected' "$tmp/err"
	ok $? "lockdep reports the inverted lock order"
	grep -q 'BUG: sleeping function called from invalid context' "$tmp/err"
	ok $? "DEBUG_ATOMIC_SLEEP reports the sleep under a spinlock"
	grep -q 'ODEBUG: free active .*object type: timer_list' "$tmp/err"
	ok $? "DEBUG_OBJECTS reports the freed active timer"
	grep -q 'list_del corruption' "$tmp/err"
	ok $? "DEBUG_LIST reports the double deletion"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
	[ $fail -eq 0 ]
	exit
fi

# 1-5: one boot; a command that exits 7, with awkward arguments.
cd "$top/tests/rig" || exit 1
RIG_VAR='two  spaces' "$vmrun" --kernel "$krel" --timeout 120 -- \
	sh -c 'printf "[%s]" "$@"; echo; pwd; echo "$RIG_VAR"; echo to-stderr >&2; exit 7' \
	sh 'a b' '' "c'd" '$HOME' '*' 'line
break' >"$tmp/out" 2>"$tmp/err"
rc=$?
cd "$top" || exit 1
[ $rc -eq 7 ]; ok $? "exit status 7 comes back exactly" "got $rc"
want="[a b][][c'd][\$HOME][*][line
break]"
[ "$(sed -n 1,2p "$tmp/out")" = "$want" ]; ok $? "arguments reach the guest intact" "got: $(head -n 2 "$tmp/out")"
[ "$(sed -n 3p "$tmp/out")" = "$top/tests/rig" ]; ok $? "the command runs in the current directory" "got: $(sed -n 3p "$tmp/out")"
[ "$(sed -n 4p "$tmp/out")" = "two  spaces" ]; ok $? "the environment is passed through" "got: $(sed -n 4p "$tmp/out")"
grep -qx to-stderr "$tmp/err" && ! grep -q to-stderr "$tmp/out"
ok $? "stderr comes back on stderr" "stderr: $(head -c 300 "$tmp/err")"

# 6: a WARNING in the guest kernel fails the run although insmod succeeded.
ko=$top/build/$krel/tests/rig/rig_warn.ko
"$vmrun" --kernel "$krel" --timeout 120 --log "$tmp/warn.log" -- insmod "$ko" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 123 ] && grep -q 'WARNING: .*rig_warn' "$tmp/err"
ok $? "a kernel WARNING fails the run (exit 123)" "got $rc; stderr: $(head -c 500 "$tmp/err")"

# 7: the timeout ends a command that would never finish.
"$vmrun" --kernel "$krel" --timeout 25 -- sleep 1000 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 124 ]; ok $? "the wall-clock timeout stops the run (exit 124)" "got $rc"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
