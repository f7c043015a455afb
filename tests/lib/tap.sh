# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers of the shell suites (tests/kselftest/vhostctl_test.sh,
# tests/e2e/serve_qemu_test.sh).  Source it after setting VHOSTCTL; it
# keeps the counts in n, pass and fail, and vc's files in $tmp.

n=0
pass=0
fail=0
tmp=
KSFT_SKIP=4

totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$1 error:0"
}

# skip_all REASON: the whole suite is skipped.
skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	totals 1
	exit $KSFT_SKIP
}

# diag TEXT...: each line as a TAP comment.
diag() {
	local line
	while IFS= read -r line; do
		echo "# $line"
	done < <(printf '%s\n' "$@")
}

# result DESC: the last command's status decides.  A command substitution in
# DESC runs after that command and would decide instead: compute it first.
result() {
	local rc=$?
	n=$((n + 1))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $1"
	else
		fail=$((fail + 1))
		echo "not ok $n $1"
	fi
}

# vc ARGS...: vhostctl with stdout in $out, stderr in $err, status in $rc.
vc() {
	out=$("$VHOSTCTL" "$@" 2>"$tmp/err")
	rc=$?
	err=$(<"$tmp/err")
}

# jq_check FILTER: the JSON in $out satisfies FILTER (jq -e); empty output
# satisfies nothing.
jq_check() {
	if [ -z "$out" ]; then
		diag "jq $*: no JSON to check (status $rc):" "$err"
		return 1
	fi
	if ! printf '%s' "$out" | jq -e "$@" >/dev/null; then
		diag "jq $* failed on:" "$out"
		return 1
	fi
}
