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
#   migrate_qemu_test.sh [--direct] [--no-dirty-log]
#
# --direct runs the project's QEMU (build/qemu/qemu-system-x86_64, make
# qemu) with its vhost-blk-pci device instead of serve: each QEMU opens
# /dev/vhost-blk itself and serves a memory-backed null_blk, /dev/nullb0
# (the shared storage).  The source has a worker per virtqueue
# (worker-per-virtqueue=on), the destination a single one (workers=1), each
# checked with vhostctl worker show while it runs; first, the device must
# refuse a missing backend, one that is not a disk, a read-only one
# (without read-only=on), a logical block smaller than the disk's, more
# queues than the module serves and a discard limit of 0, with a message
# that names the problem.
# --no-dirty-log is the negative control: the module's test_no_dirty_log
# parameter turns its logging off (it still offers LOG_ALL), and the same
# run must end with the guest's check failing.  Runs inside a vm-run guest:
#   scripts/vm-run --kernel 6.12 --load --mem 3072 --timeout 900 -- \
#       tests/e2e/migrate_qemu_test.sh
# Prints TAP; exit 0 if every test passed, 4 to skip.

# jq filters name their variables ($pid, $serial) in single quotes.
# shellcheck disable=SC2016
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
direct=
for arg; do
	case $arg in
	--no-dirty-log) negative=1 ;;
	--direct) direct=1 ;;
	*)
		echo "usage: $0 [--direct] [--no-dirty-log]" >&2
		exit 2
		;;
	esac
done
PLAN=6
[ -z "$direct" ] || PLAN=14
# The direct mode's QEMU and its shared storage.
QEMU_DIRECT=$top/build/qemu/qemu-system-x86_64
NULLB=/dev/nullb0
NULLB_RO=/dev/nullb1
SERIAL=e2e-direct-0001
name=migrate_qemu_test${direct:+.direct}${negative:+.negative}

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
		for f in src/guest.log dst/guest.log src/qmp.log dst/qmp.log src/qemu.out dst/qemu.out \
			serve-src.err serve-dst.err; do
			cp "$tmp/$f" "$top/build/e2e/$name.${f//\//-}" 2>/dev/null
		done
	fi
	[ -z "${NULLB_4K_DIR:-}" ] || rmdir "$NULLB_4K_DIR" 2>/dev/null
	[ -z "$nullb_loaded" ] || rmmod null_blk 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nullb_loaded=
nested_require
if [ -n "$direct" ]; then
	[ -x "$QEMU_DIRECT" ] || skip_all "$QEMU_DIRECT is not built: make qemu"
	! lsmod | grep -q '^null_blk ' || skip_all "null_blk is loaded already"
	modprobe null_blk nr_devices=2 memory_backed=1 gb=1 2>/dev/null ||
		skip_all "no null_blk module"
	nullb_loaded=1
	# And one of 4 KiB blocks, through configfs, so that a smaller
	# logical-block-size is a mistake.  (The guest's disk keeps 512-byte
	# blocks: on a 4 KiB null_blk the negative control found no stale page.)
	[ -d /sys/kernel/config/nullb ] || mount -t configfs none /sys/kernel/config 2>/dev/null
	NULLB_4K_DIR=/sys/kernel/config/nullb/e2e4k
	NULLB_4K=
	if mkdir "$NULLB_4K_DIR" 2>/dev/null; then
		echo 64 >"$NULLB_4K_DIR/size" && echo 1 >"$NULLB_4K_DIR/memory_backed" &&
			echo 4096 >"$NULLB_4K_DIR/blocksize" && echo 1 >"$NULLB_4K_DIR/power"
		# 6.12 names the disk after the directory, 6.1 nullb<index>.
		NULLB_4K=/dev/e2e4k
		[ -b "$NULLB_4K" ] || NULLB_4K=/dev/nullb$(cat "$NULLB_4K_DIR/index")
	fi
	udevadm settle 2>/dev/null
	{ [ -b "$NULLB" ] && [ -b "$NULLB_RO" ] && [ -b "$NULLB_4K" ]; } ||
		skip_all "null_blk made no $NULLB, $NULLB_RO and a 4 KiB device"
	nested_qemu=$QEMU_DIRECT
fi
if [ -n "$negative" ]; then
	[ -w "$PARAM" ] || skip_all "the module has no test_no_dirty_log parameter"
fi

tmp=$(mktemp -d "/tmp/$name.XXXXXX")
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
	[ -n "$direct" ] && return
	diag "serve (source):" "$(tail -n 20 "$tmp/serve-src.err")"
	diag "serve (destination):" "$(tail -n 20 "$tmp/serve-dst.err")"
}

# disk_args src|dst: the QEMU arguments of the guest's disk: a vhost-user
# device on that side's serve, or the direct device with the side's
# worker layout.
disk_args() {
	if [ -z "$direct" ]; then
		disk_sock=$tmp/$1.sock disk=()
		return
	fi
	local layout=worker-per-virtqueue=on
	[ "$1" = src ] || layout=workers=1
	disk_sock=-
	disk=(-device "vhost-blk-pci,backend=$NULLB,num-queues=$QUEUES,$layout,serial=$SERIAL")
}

# refused DESC REGEX DEVICE-PROPERTIES: the direct QEMU refuses the device
# at start-up, exits 1, and says why.
refused() {
	local desc=$1 re=$2 props=$3 msg rc shown
	# Realize fails at once; a QEMU that took the device waits (-S).
	msg=$(timeout 20 "$QEMU_DIRECT" -machine pc -nodefaults -display none -S \
		-device "vhost-blk-pci,$props" 2>&1 </dev/null)
	rc=$?
	diag "vhost-blk-pci,$props: status $rc: $msg"
	shown=$(printf '%s' "$msg" | sed 's/^[^:]*: [^:]*: //')
	# The last command before result decides (a command substitution in
	# result's arguments would).
	[ $rc -eq 1 ] && printf '%s' "$msg" | grep -qE "$re"
	result "QEMU refuses $desc: $shown"
}

# workers_of SIDE WANT-WORKERS: the device that SIDE's QEMU owns has
# WANT-WORKERS workers, threads of QEMU, serving vqs 0 and 1 (one each when
# two, both when one); its id in $dev.
workers_of() {
	local side=$1 want=$2 parent=$src_pid qpid tid layout
	[ "$side" = src ] || parent=$dst_pid
	dev=
	qpid=$(pgrep -P "$parent" -x qemu-system-x86 | head -n 1)
	[ -n "$qpid" ] || { diag "no $side QEMU process"; return 1; }
	vc --json dev show
	dev=$(printf '%s' "$out" | jq -r --argjson pid "$qpid" '.[] | select(.owner_pid == $pid) | .id')
	[ -n "$dev" ] || { diag "no device owned by QEMU $qpid: $out"; return 1; }
	vc --json worker show dev "$dev"
	layout=$(printf '%s' "$out" | jq -c 'map({id, tid, vqs: (.vqs | map(select(. < 2)))})')
	diag "$side QEMU $qpid, device $dev: workers $layout"
	if [ "$want" -eq 2 ]; then
		jq_check 'map(.vqs | map(select(. < 2))) | map(select(length > 0)) | sort == [[0], [1]]'
	else
		jq_check 'length == 1 and (.[0].vqs | index(0) != null and index(1) != null)'
	fi || return 1
	for tid in $(printf '%s' "$out" | jq -r '.[].tid'); do
		[ -d "/proc/$qpid/task/$tid" ] ||
			{ diag "worker $tid is not a thread of QEMU $qpid"; return 1; }
	done
	vc --json dev show "$dev"
	jq_check --arg serial "$SERIAL" '.serial == $serial and .limits.capacity == 2097152'
}

echo "TAP version 13"
echo "1..$PLAN"
if [ -n "$negative" ]; then
	echo 1 >"$PARAM"
	diag "negative control: $PARAM = 1, the module logs nothing"
fi

if [ -n "$direct" ]; then
	# 1-6. Bad backends and properties, refused at start-up; 7. a
	# read-only disk served read-only.
	refused "a missing backend" "cannot open backend '/nonexistent': No such file" \
		backend=/nonexistent
	refused "a backend that is not a disk" "'/dev/null' is neither a block device nor a regular file" \
		backend=/dev/null
	blockdev --setro "$NULLB_RO"
	refused "a read-only backend without read-only=on" "'$NULLB_RO' is a read-only block device" \
		"backend=$NULLB_RO"
	refused "a logical block smaller than the disk's" \
		"logical-block-size 512 is smaller than the 4096 bytes of backend '$NULLB_4K'" \
		"backend=$NULLB_4K,logical-block-size=512"
	max_queues=$(cat /sys/module/vhost_blk/parameters/max_queues)
	refused "more queues than the module serves" "num-queues must be 1 to $max_queues" \
		"backend=$NULLB,num-queues=$((max_queues + 1))"
	refused "a discard limit of 0" "max-discard-sectors and max-write-zeroes-sectors must be" \
		"backend=$NULLB,max-discard-sectors=0"
	read_only_ok() {
		local qpid dev
		"$QEMU_DIRECT" -machine pc -nodefaults -display none -S \
			-device "vhost-blk-pci,backend=$NULLB_RO,read-only=on,num-queues=1" \
			</dev/null >"$tmp/ro.out" 2>&1 &
		qpid=$!
		for _ in {1..50}; do
			vc --json dev show
			dev=$(printf '%s' "$out" | jq -r --argjson pid "$qpid" '.[] | select(.owner_pid == $pid) | .id')
			[ -n "$dev" ] && break
			sleep 0.2
		done
		if [ -z "$dev" ]; then
			diag "no device owned by QEMU: $out" "QEMU: $(cat "$tmp/ro.out")"
			kill "$qpid" 2>/dev/null
			wait "$qpid" 2>/dev/null
			return 1
		fi
		vc --json dev show "$dev"
		diag "read-only=on: device $dev: $(printf '%s' "$out" | jq -c '{read_only, limits}')"
		jq_check '.limits.read_only == true or .read_only == true'
		local r=$?
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
		return $r
	}
	read_only_ok
	result "with read-only=on QEMU takes it, and the module's device is read-only"
fi

# 1. Two serves on the same backend file, as two hosts on shared storage.
[ -n "$direct" ] || for side in src dst; do
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
if [ -z "$direct" ]; then
	listening
	result "two vhostctl serve on one backend file listen (source ${serve_pids[0]}, destination ${serve_pids[1]})"
fi

# 2. The source boots the guest, whose load runs: every slot written, read
# back into memory and checked at least once.
qmp_setup "$tmp/src"
disk_args src
nested_start "$tmp/src" "$disk_sock" $QUEUES "e2e.migrate=$SLOT_MIB:$SLOTS" 2 "${qmp_args[@]}" \
	"${disk[@]}"
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

if [ -n "$direct" ]; then
	# 3. The source's device: a worker per virtqueue, both virtqueues busy.
	src_workers_ok() {
		workers_of src 2 || return 1
		vc --json vq show dev "$dev"
		diag "vq show: $(printf '%s' "$out" | jq -c 'map(select(.index < 2)) | map({index, worker_id, requests, errors})')"
		jq_check 'map(select(.index < 2)) | length == 2 and all(.requests > 0 and .errors == 0)'
	}
	src_workers_ok
	result "worker-per-virtqueue=on: vqs 0 and 1 on workers of their own, threads of QEMU, both serving"
fi

# 3. The destination waits for the migration, with the same devices.
qmp_setup "$tmp/dst"
disk_args dst
nested_start "$tmp/dst" "$disk_sock" $QUEUES "e2e.migrate=$SLOT_MIB:$SLOTS" 2 \
	"${qmp_args[@]}" -incoming "unix:$tmp/migrate.sock" "${disk[@]}"
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
where="the second serve"
[ -z "$direct" ] || where="the same null_blk"
result "a second QEMU waits for the guest (-incoming), on $where"
if [ -n "$direct" ]; then
	workers_of dst 1
	result "workers=1: the destination's one worker serves vqs 0 and 1"
fi

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
	[ -n "$direct" ] || grep -q 'dirty log: [0-9]* bytes' "$tmp/serve-src.err" ||
		{ diag "source serve never got a dirty log"; return 1; }
}
migration=
migrated_ok
migrated=$?
figures=$(printf '%s' "$migration" |
	jq -r '"\(.["total-time"]) ms, downtime \(.downtime) ms, \(.ram.transferred / 1048576 | floor) MiB sent"' 2>/dev/null)
[ $migrated -eq 0 ]
result "the guest migrates while it writes: $figures ($((SECONDS - t0)) s)"

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
	if [ -z "$direct" ] &&
		grep -qE 'refused|unexpected|error:' "$tmp/serve-src.err" "$tmp/serve-dst.err"; then
		diag "a serve refused a message"
		r=1
	elif [ -n "$direct" ] && grep -qi 'vhost' "$tmp/src/qemu.out" "$tmp/dst/qemu.out"; then
		diag "QEMU reported a vhost error:" "$(cat "$tmp/src/qemu.out" "$tmp/dst/qemu.out")"
		r=1
	fi
	return $r
}
ends_ok
complaint="message refused"
[ -z "$direct" ] || complaint="vhost error from QEMU"
result "the source quits, the destination's guest powers off, no $complaint ($((SECONDS - t0)) s)"
if [ -z "$direct" ]; then
	diag "vhostctl serve (source):" "$(<"$tmp/serve-src.err")"
	diag "vhostctl serve (destination):" "$(<"$tmp/serve-dst.err")"
fi

diag "wall time $((SECONDS - t0)) s"
[ "$n" -eq "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; fail=$((fail + 1)); }
totals 0
[ "$fail" -eq 0 ]
