#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live migration between two unmodified QEMUs, each behind a "vhostctl
# serve" of its own on the same backend file (shared storage), against the
# loaded module.  The nested guest (tests/e2e/mkguest, e2e.migrate) runs
# tests/e2e/migload.c: it writes its own block to each of 1024 slots of
# /dev/vda, pass after pass, and reads each back with O_DIRECT into a page
# that stays in memory, so that the device itself writes those pages.  While
# it runs the source QEMU migrates it (QMP "migrate", bandwidth capped so
# that it takes a while) to a second QEMU started with -incoming; source
# serve maps QEMU's dirty log for the module (LOG_SHMFD, VHOST_SET_LOG_BASE),
# which marks every page its requests write.  On the destination the guest
# then checks every slot in memory (a page written by the device after QEMU
# sent it, and not logged, holds an older pass there) and every block on
# the disk.
#
#   migrate_qemu_test.sh [--no-dirty-log]
#
# --no-dirty-log is the negative control: the module's test_no_dirty_log
# parameter turns its logging off (it still offers LOG_ALL), and the same
# run must end with the guest's check failing.  Runs inside a vm-run guest:
#   scripts/vm-run --kernel 6.12 --load --mem 3072 --timeout 900 -- \
#       tests/e2e/migrate_qemu_test.sh
# Prints TAP; exit 0 if every test passed, 4 to skip.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
VHOSTCTL=${VHOSTCTL:-$top/build/ctl/tool/vhostctl}
# shellcheck source=tests/lib/tap.sh
. "$top/tests/lib/tap.sh"
# shellcheck source=tests/e2e/nested.sh
. "$top/tests/e2e/nested.sh"

QUEUES=2
# The guest's slots: 1024 blocks of 4 KiB (4 MiB of its memory) at 8 MiB.
SLOT_MIB=8
SLOTS=1024
# Migration bandwidth (bytes/s) and the pause allowed at the switch (ms):
# low enough that the guest's I/O runs while its memory is copied.
BANDWIDTH=$((16 << 20))
DOWNTIME_MS=1000
PARAM=/sys/module/vhost_blk/parameters/test_no_dirty_log
# A CPU model that migrates: "max" is whatever this QEMU emulates, which
# QEMU does not promise to carry across a migration.
nested_cpu=qemu64

negative=
[ "${1:-}" = --no-dirty-log ] && negative=1
PLAN=6

src_pid='' src_cat='' dst_pid='' dst_cat=''
serve_pids=()

cleanup() {
	nested_pid=$src_pid nested_cat=$src_cat
	nested_stop
	nested_pid=$dst_pid nested_cat=$dst_cat
	nested_stop
	local p
	for p in "${serve_pids[@]}" "${qmp_cats[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -w "$PARAM" ] && echo 0 >"$PARAM"
	if [ -n "$tmp" ] && mkdir -p "$top/build/e2e" 2>/dev/null; then
		for f in src/guest.log dst/guest.log src/qmp.log dst/qmp.log serve-src.err serve-dst.err; do
			cp "$tmp/$f" "$top/build/e2e/migrate_qemu_test${negative:+.negative}.${f//\//-}" 2>/dev/null
		done
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nested_require
if [ -n "$negative" ]; then
	[ -w "$PARAM" ] || skip_all "the module has no test_no_dirty_log parameter"
fi

tmp=$(mktemp -d /tmp/migrate_qemu_test.XXXXXX)
mkdir -p "$tmp/src" "$tmp/dst"
img=$tmp/disk.img
truncate -s 64M "$img"
t0=$SECONDS

# use src|dst: nested_wait and nested_send talk to that QEMU.
use() {
	if [ "$1" = src ]; then
		nested_pid=$src_pid nested_cat=$src_cat
	else
		nested_pid=$dst_pid nested_cat=$dst_cat
	fi
	nested_dir=$tmp/$1
}

# qmp_setup DIR: QMP over a pipe chardev, DIR/qmp.in and DIR/qmp.out, the
# replies collected in DIR/qmp.log, one JSON object a line; QEMU's
# arguments for it in qmp_args.
qmp_setup() {
	rm -f "$1/qmp.in" "$1/qmp.out"
	mkfifo "$1/qmp.in" "$1/qmp.out"
	: >"$1/qmp.log"
	cat "$1/qmp.out" >>"$1/qmp.log" &
	qmp_cats+=("$!")
	qmp_args=(-chardev "pipe,id=qmp,path=$1/qmp" -mon "chardev=qmp,mode=control")
}
qmp_cats=()
qmp_args=()
qmp_seq=0

# qmp DIR COMMAND [ARGUMENTS-JSON]: the reply's "return" in $out, or the
# error in $err and status 1.
qmp() {
	local dir=$1 cmd=$2 args=${3:-} id line deadline=$((SECONDS + 30))
	qmp_seq=$((qmp_seq + 1))
	id=qmp-$qmp_seq
	printf '{"execute": "%s"%s, "id": "%s"}\n' "$cmd" "${args:+, \"arguments\": $args}" "$id" \
		1<>"$dir/qmp.in"
	while [ $SECONDS -lt $deadline ]; do
		line=$(grep -a "\"$id\"" "$dir/qmp.log")
		if [ -n "$line" ]; then
			out=$(printf '%s' "$line" | jq -c '.return // empty')
			err=$(printf '%s' "$line" | jq -r '.error.desc // empty')
			rc=0
			[ -z "$err" ] || rc=1
			return $rc
		fi
		sleep 0.2
	done
	out='' err="no reply to $cmd in 30 s" rc=1
	return 1
}

# qmp_ready DIR: the greeting came and capabilities are negotiated.
qmp_ready() {
	for _ in {1..150}; do
		grep -qa '"QMP"' "$1/qmp.log" && break
		sleep 0.2
	done
	qmp "$1" qmp_capabilities
}

guest_tail() {
	local d
	for d in src dst; do
		[ -s "$tmp/$d/guest.log" ] || continue
		diag "$d guest console (last lines):" "$(tail -n 15 "$tmp/$d/guest.log" | tr -d '\r')"
		[ -s "$tmp/$d/qemu.out" ] && diag "$d qemu:" "$(<"$tmp/$d/qemu.out")"
	done
	diag "serve (source):" "$(tail -n 20 "$tmp/serve-src.err")"
	diag "serve (destination):" "$(tail -n 20 "$tmp/serve-dst.err")"
}

echo "TAP version 13"
echo "1..$PLAN"
if [ -n "$negative" ]; then
	echo 1 >"$PARAM"
	diag "negative control: $PARAM = 1, the module logs nothing"
fi

# 1. Two serves on the same backend file, as two hosts on shared storage.
for side in src dst; do
	"$VHOSTCTL" serve --backend "$img" --queues $QUEUES --workers per-vq \
		--socket "$tmp/$side.sock" 2>"$tmp/serve-$side.err" &
	serve_pids+=("$!")
done
listening() {
	local side
	for side in src dst; do
		for _ in {1..100}; do
			[ -S "$tmp/$side.sock" ] && break
			sleep 0.2
		done
		[ -S "$tmp/$side.sock" ] || { diag "no $side socket"; return 1; }
	done
	kill -0 "${serve_pids[@]}"
}
listening
result "two vhostctl serve on one backend file listen (source ${serve_pids[0]}, destination ${serve_pids[1]})"

# 2. The source boots the guest, whose load runs: every slot written, read
# back into memory and checked at least once.
qmp_setup "$tmp/src"
nested_start "$tmp/src" "$tmp/src.sock" $QUEUES "e2e.migrate=$SLOT_MIB:$SLOTS" 2 "${qmp_args[@]}"
src_pid=$nested_pid src_cat=$nested_cat
use src
running_ok() {
	qmp_ready "$tmp/src" || { diag "source QMP: $err"; return 1; }
	if ! nested_wait '^E2E (MIGLOAD RUNNING|VERIFY FAIL)' 300; then
		guest_tail
		return 1
	fi
	grep -qa '^E2E MIGLOAD RUNNING' "$tmp/src/guest.log"
}
running_ok
result "the nested guest boots on the source and its load runs ($((SECONDS - t0)) s)"

# 3. The destination waits for the migration, with the same devices.
qmp_setup "$tmp/dst"
nested_start "$tmp/dst" "$tmp/dst.sock" $QUEUES "e2e.migrate=$SLOT_MIB:$SLOTS" 2 \
	"${qmp_args[@]}" -incoming "unix:$tmp/migrate.sock"
dst_pid=$nested_pid dst_cat=$nested_cat
incoming_ok() {
	qmp_ready "$tmp/dst" || { diag "destination QMP: $err"; return 1; }
	qmp "$tmp/dst" query-status || return 1
	diag "destination: $out"
	printf '%s' "$out" | jq -e '.status == "inmigrate"' >/dev/null || return 1
	for _ in {1..50}; do
		[ -S "$tmp/migrate.sock" ] && return 0
		sleep 0.2
	done
	diag "no migration socket"
	return 1
}
incoming_ok
result "a second QEMU waits for the guest (-incoming), on the second serve"

# 4. Migrate while the guest's I/O runs; QEMU may only do so because serve
# offers VHOST_F_LOG_ALL and LOG_SHMFD (else it names the blocker).
use src
nested_send mark
migrated_ok() {
	local status deadline=$((SECONDS + 300))
	nested_wait '^E2E MIGLOAD MARK' 30 || { diag "no mark from the guest"; return 1; }
	qmp "$tmp/src" migrate-set-parameters \
		"{\"max-bandwidth\": $BANDWIDTH, \"downtime-limit\": $DOWNTIME_MS}" ||
		{ diag "migrate-set-parameters: $err"; return 1; }
	qmp "$tmp/src" migrate "{\"uri\": \"unix:$tmp/migrate.sock\"}" ||
		{ diag "migrate refused: $err"; return 1; }
	while [ $SECONDS -lt $deadline ]; do
		qmp "$tmp/src" query-migrate || return 1
		status=$(printf '%s' "$out" | jq -r .status)
		case $status in
		completed) break ;;
		failed | cancelled)
			diag "migration $status: $out"
			return 1
			;;
		esac
		sleep 1
	done
	[ "$status" = completed ] || { diag "migration still $status after 300 s: $out"; return 1; }
	migration=$out
	diag "query-migrate: $(printf '%s' "$out" | jq -c '{status, "total-time", downtime,
		"setup-time", ram: (.ram | {transferred, "dirty-sync-count", "dirty-pages-rate"})}')"
	grep -q 'dirty log: [0-9]* bytes' "$tmp/serve-src.err" ||
		{ diag "source serve never got a dirty log"; return 1; }
}
migration=
migrated_ok
result "the guest migrates while it writes: $(printf '%s' "$migration" |
	jq -r '"\(.["total-time"]) ms, downtime \(.downtime) ms, \(.ram.transferred / 1048576 | floor) MiB sent"' 2>/dev/null) ($((SECONDS - t0)) s)"

# 5. On the destination the guest goes on, then checks every slot in its
# memory and on the disk.  Without the module's log it must find damage.
# The marks before and after tell what it wrote while it migrated.
use dst
nested_send mark
nested_wait '^E2E MIGLOAD MARK' 60
nested_send verify
verdict=
kib() {
	grep -a '^E2E MIGLOAD MARK' "$1" | sed -n 's/.* MARK \([0-9]*\) KiB.*/\1/p' | head -n 1
}
verified() {
	local before after
	if ! nested_wait '^E2E (MIGVERIFY|VERIFY FAIL)' 120; then
		guest_tail
		return 2
	fi
	verdict=$(grep -a '^E2E MIGVERIFY' "$tmp/dst/guest.log" | tr -d '\r')
	before=$(kib "$tmp/src/guest.log")
	after=$(kib "$tmp/dst/guest.log")
	diag "written before the migration: ${before:-?} KiB; when it had completed: ${after:-?} KiB;" \
		"so during it: $((${after:-0} - ${before:-0})) KiB" "destination: $verdict"
	diag "$(grep -a '^E2E MIGLOAD slot' "$tmp/dst/guest.log" | head -n 8 | tr -d '\r')"
	[ -n "$verdict" ] || return 2
	case $verdict in *': OK '*) return 0 ;; esac
	return 1
}
verified
v=$?
if [ -n "$negative" ]; then
	[ $v -eq 1 ]
	result "without dirty logging the guest finds the damage: ${verdict#E2E MIGVERIFY }"
else
	[ $v -eq 0 ]
	result "every slot the guest wrote before and during the migration is intact: ${verdict#E2E MIGVERIFY }"
fi

# 6. Both QEMUs end: the destination's guest powers off (in the negative
# control, whose guest may wait for a request forever, QEMU is told to
# quit), the source quits; neither serve refused a message.
ends_ok() {
	local r=0
	use src
	qmp "$tmp/src" quit
	nested_reap 30 || { diag "the source QEMU did not quit"; r=1; }
	src_pid='' src_cat=''
	use dst
	[ -z "$negative" ] || qmp "$tmp/dst" quit
	if nested_reap 60; then
		[ "$nested_rc" -eq 0 ] || { diag "destination qemu exit $nested_rc"; r=1; }
	else
		diag "the destination QEMU did not end"
		r=1
	fi
	dst_pid='' dst_cat=''
	if grep -qE 'refused|unexpected|error:' "$tmp/serve-src.err" "$tmp/serve-dst.err"; then
		diag "a serve refused a message"
		r=1
	fi
	return $r
}
ends_ok
result "the source quits, the destination's guest powers off, no message refused ($((SECONDS - t0)) s)"
diag "vhostctl serve (source):" "$(<"$tmp/serve-src.err")"
diag "vhostctl serve (destination):" "$(<"$tmp/serve-dst.err")"

diag "wall time $((SECONDS - t0)) s"
[ "$n" -eq "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; fail=$((fail + 1)); }
totals 0
[ "$fail" -eq 0 ]
