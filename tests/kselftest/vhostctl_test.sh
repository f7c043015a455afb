#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhostctl against the loaded module.  "vhostctl run" owns a device with two
# queues, one worker each, on a file in /tmp; the read commands must report
# what the kernel set up (worker ids and thread ids, vq bindings, one device
# in detail), the admin command must move a virtqueue as root (keywords or
# positional) and be refused to uid 65534, an unprivileged reader must not
# see root's device, and each failure must be one line with the exit status
# that says what failed (2 usage, 3 no such device, 5 permission); bench
# measures the device and a qemu-storage-daemon, paced too, and the
# busy-poll timeout it sets is read back from the kernel; the same driver
# lays out packed rings the kernel serves, under the auto layout's moves.
# Prints TAP; exit 0 if every test passed, 4 to skip.

# jq filters name their variables ($pid, $dev) in single quotes.
# shellcheck disable=SC2016
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
VHOSTCTL=${VHOSTCTL:-$top/build/ctl/tool/vhostctl}
# shellcheck source=tests/lib/tap.sh
. "$top/tests/lib/tap.sh"
NOBODY=65534
PLAN=27

run_pid=

cleanup() {
	if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
		kill -KILL "$run_pid" 2>/dev/null
		wait "$run_pid" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
# A timeout's SIGTERM must not leave the device's owner running.
trap 'exit 130' INT TERM

# lines TEXT: how many lines TEXT has (bash only: every program started
# from the VM's 9p root costs time under TCG).
lines() {
	local -a a
	mapfile -t a <<<"$1"
	echo ${#a[@]}
}

# vc_nobody ARGS...: the same as uid and gid 65534, without capabilities.
vc_nobody() {
	out=$(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --inh-caps=-all \
		"$VHOSTCTL" "$@" 2>"$tmp/err")
	rc=$?
	err=$(<"$tmp/err")
}

# one_line_failure STATUS: the last vc failed with STATUS and one line on stderr.
one_line_failure() {
	local want=$1
	if [ "$rc" -ne "$want" ] || [ -n "$out" ] || [ "$(lines "$err")" -ne 1 ] ||
		[[ $err != "vhostctl: "* ]]; then
		diag "status $rc (want $want), stdout '$out', stderr:" "$err"
		return 1
	fi
	diag "$err"
}

[ "$(id -u)" -eq 0 ] || skip_all "must run as root"
[ -c /dev/vhost-blk ] || skip_all "/dev/vhost-blk is missing: load vhost_blk.ko"
[ -x "$VHOSTCTL" ] || skip_all "$VHOSTCTL is not built: make ctl"
command -v jq >/dev/null || skip_all "jq is not installed"
command -v setpriv >/dev/null || skip_all "setpriv is not installed"

tmp=$(mktemp -d /tmp/vhostctl_test.XXXXXX)
chmod 755 "$tmp"
img=$tmp/disk.img
truncate -s 64M "$img"

echo "TAP version 13"
echo "1..$PLAN"

# 1. A device with two queues, one worker each, until SIGINT; niced, so that
# its I/O leaves the (emulated) CPUs to the commands under test.
nice -n 19 "$VHOSTCTL" --json run --backend "$img" --queues 2 --workers per-vq --iodepth 2 \
	--duration 300 >"$tmp/run.out" 2>"$tmp/run.err" &
run_pid=$!
dev=
for _ in {1..60}; do
	vc --json dev show
	dev=$(printf '%s' "$out" |
		jq -r --argjson pid "$run_pid" '.[] | select(.owner_pid == $pid and .backend != null) | .id' 2>/dev/null)
	[ -n "$dev" ] && break
	kill -0 "$run_pid" 2>/dev/null || break
	sleep 0.5
done
[ -n "$dev" ]
result "vhostctl run brings up a device (id ${dev:-none}, owner $run_pid)"
if [ -z "$dev" ]; then
	diag "vhostctl run:" "$(<"$tmp/run.err")"
	dev=4294967295
fi

# 2. dev show: the owner, the backend, three workers (0 and one per queue).
vc --json dev show
out=$(printf '%s' "$out" | jq -c --argjson dev "$dev" 'map(select(.id == $dev))' 2>/dev/null)
mode=$(printf '%s' "$out" | jq -r '.[0].worker_mode' 2>/dev/null)
jq_check --argjson pid "$run_pid" --arg img "$img" \
	'length == 1 and .[0].owner_pid == $pid and .[0].owner_uid == 0 and
	 .[0].backend == $img and .[0].backend_size == 67108864 and .[0].num_workers == 3 and
	 (.[0].features | . != null and . > 0)'
result "dev show reports the owner, the backend and 3 workers ($mode mode)"

# 3. dev show ID: the device in detail, its workers and vqs nested, and its
# owner's name; run is not serve: no socket, serial or limits of serve's.
vc --json dev show "$dev"
jq_check --argjson dev "$dev" --argjson pid "$run_pid" \
	'type == "object" and .id == $dev and .owner_pid == $pid and .owner_comm == "vhostctl" and
	 (.workers | map(.id) | sort) == [0, 1, 2] and (.vqs | length) > 1 and
	 (.vqs | map(select(.active)) | map(.index)) == [0, 1] and
	 .socket == null and .serial == null'
result "dev show $dev: one object, its 3 workers and its vqs nested, owner vhostctl"

# 4. worker show: ids 0, 1, 2 and their thread ids.
vc --json worker show dev "$dev"
workers=$out
jq_check '[.[].id] | sort == [0, 1, 2]' &&
	jq_check 'map(select(.id > 0) | .vqs | length) == [1, 1]'
result "worker show reports workers 0, 1 and 2, one vq each for 1 and 2"

# 5. Every TID is the worker's thread: a thread of the owner in task mode,
# a kthread otherwise; either way named vhost-OWNER.
tids_ok() {
	local tid comm
	for tid in $(printf '%s' "$workers" | jq -r '.[].tid'); do
		if [ "$tid" -eq 0 ] || [ ! -d "/proc/$tid" ]; then
			diag "worker thread $tid does not exist"
			return 1
		fi
		if [ "$mode" = task ] && [ ! -d "/proc/$run_pid/task/$tid" ]; then
			diag "worker thread $tid is not in /proc/$run_pid/task:" "$(ls "/proc/$run_pid/task")"
			return 1
		fi
		if [ "$mode" = kthread ] && [ -d "/proc/$run_pid/task/$tid" ]; then
			diag "kthread worker $tid is a thread of the owner"
			return 1
		fi
		comm=$(<"/proc/$tid/comm")
		if [ "$comm" != "vhost-$run_pid" ]; then
			diag "worker thread $tid is named '$comm', not vhost-$run_pid"
			return 1
		fi
	done
	diag "worker threads: $(printf '%s' "$workers" | jq -c '[.[].tid]')"
}
tids_ok
result "worker TIDs are live $mode threads named vhost-$run_pid"

# 6. vq show agrees with worker show, both ways.
bindings_match() {
	vc --json vq show dev "$dev"
	local vqs=$out
	vc --json worker show dev "$dev"
	jq -n -e --argjson vqs "$vqs" --argjson workers "$out" '
		($vqs | map({key: (.index | tostring), value: .worker_id}) | from_entries) as $by_vq |
		($workers | all(.id as $id | .vqs | all($by_vq[tostring] == $id))) and
		($vqs | all(.index as $i | .worker_id as $w |
			$workers | any(.id == $w and (.vqs | index($i) != null))))' >/dev/null ||
		{ diag "vqs:" "$vqs" "workers:" "$out"; return 1; }
}
bindings_match
result "vq show bindings match worker show"

# 7. The two queues are served and have moved requests.
sleep 2
vc --json vq show dev "$dev" active
jq_check 'map(.index) == [0, 1] and all(.active and .num > 0 and .requests > 0 and .errors == 0) and
	  (map(.worker_id) | sort) == [1, 2] and all(.ring == "split")'
result "vq show active lists vqs 0 and 1 (split rings) on workers 1 and 2, moving requests"

# 8. The admin moves vq 0 to worker 2 while I/O runs.
vc vq attach dev "$dev" vq 0 worker 2
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
vc --json vq show dev "$dev"
jq_check '.[] | select(.index == 0) | .worker_id == 2' && bindings_match
result "vq attach dev $dev vq 0 worker 2 as root moves vq 0 to worker 2"

# 9. And back, positional.
vc vq attach "$dev" 0 1
vc --json vq show dev "$dev"
jq_check '.[] | select(.index == 0) | .worker_id == 1' && bindings_match
result "vq attach $dev 0 1 moves it back"

# 10. uid 65534 may not: permission, status 5.
vc_nobody vq attach "$dev" 0 2
one_line_failure 5 && [[ $err == *"Operation not permitted"* ]] &&
	vc --json vq show dev "$dev" && jq_check '.[] | select(.index == 0) | .worker_id == 1'
result "vq attach as uid $NOBODY is refused in one line, the binding unchanged"

# 11. Nor does it see root's device.
vc_nobody --json dev show
[ "$rc" -eq 0 ] && jq_check --argjson dev "$dev" 'all(.id != $dev)' &&
	vc_nobody --json worker show && jq_check --argjson dev "$dev" 'all(.dev_id != $dev)'
result "uid $NOBODY's dev show and worker show do not list root's device"

# 12. A worker that does not exist: status 3.
vc vq attach "$dev" 0 77
one_line_failure 3 && vc --json vq show dev "$dev" &&
	jq_check '.[] | select(.index == 0) | .worker_id == 1'
result "vq attach to a worker that does not exist fails in one line"

# 13. A device that does not exist: status 3, both commands.
shown=1
vc worker show dev 2147483647
one_line_failure 3 && shown=0
vc vq attach 2147483647 0 0
one_line_failure 3 && [ "$shown" -eq 0 ]
result "a device id that does not exist fails in one line, status 3"

# 14. Usage errors: status 2, one line.
usage_ok=0
for args in "bogus" "worker bogus" "vq attach 1 2" "worker show dev x" "run --queues 2" \
	"bench --backend $img --ring bogus"; do
	# shellcheck disable=SC2086
	vc $args
	one_line_failure 2 || usage_ok=1
done
[ $usage_ok -eq 0 ]
result "unknown objects, commands and bad arguments exit 2 with one line"

# 15. run without the device node: status 3.
vc run --backend "$img" --device "$tmp/no-such-node" --duration 1
one_line_failure 3 && [[ $err == *"no-such-node: No such file or directory"* ]]
result "vhostctl run without its device node fails in one line"

# 16. top shows the device's workers with rates.
vc --json top --interval 0.5 --iterations 2 dev "$dev"
[ "$rc" -eq 0 ] && [ "$(lines "$out")" -eq 2 ] &&
	jq_check -s 'all(.workers | length == 3) and
		     (last | .vqs | map(.requests_per_s) | add > 0)'
result "top --iterations 2 prints two frames with 3 workers and I/O rates"

# 17. The running device's latency, from the module's histograms: vq show's
# quantiles, vq hist's bars and JSON, and stats in the OpenMetrics text
# format, which prometheus_client's strict parser reads.
vc --json vq show active dev "$dev"
jq_check 'length == 2 and all(.p50_us > 0 and .p99_us >= .p50_us and .max_us >= .p99_us)' &&
	vc --json vq hist "$dev" 0 kind service &&
	jq_check 'length >= 1 and all(.count > 0 and (.buckets | length) == 22 and
		  (.buckets | map(.count) | add) == .count)' &&
	vc vq hist "$dev" 0 && [[ $out == *"dev $dev vq 0 service "*" requests, mean "*"|#"* ]] &&
	vc stats dev "$dev" && printf '%s\n' "$out" >"$tmp/stats.om" &&
	/usr/bin/python3 - "$tmp/stats.om" "$dev" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
dev = sys.argv[2]
service = [s for s in fams["vhost_blk_vq_service_seconds"].samples
           if s.name.endswith("_count") and s.labels["dev"] == dev]
requests = [s for s in fams["vhost_blk_vq_requests"].samples if s.labels["dev"] == dev]
assert fams["vhost_blk_vq_service_seconds"].type == "histogram"
assert service and sum(s.value for s in service) > 0, service
assert requests and sum(s.value for s in requests) > 0, requests
PY
result "vq show, vq hist and stats --format=openmetrics report the device's latency"

# 18. SIGINT ends the run with a summary and no failed request.
kill -INT "$run_pid"
wait "$run_pid"
run_rc=$?
run_pid=
out=$(<"$tmp/run.out")
[ $run_rc -eq 0 ] && jq_check '.ios > 0 and .errors == 0 and .queues == 2 and .target == "vhost-blk" and
			       .layout == "per-vq" and .worker_ids == [1, 2] and .rw == "randread"'
result "vhostctl run stops on SIGINT with a summary, no request failed (exit $run_rc)"
diag "$out"
[ -s "$tmp/run.err" ] && diag "$(<"$tmp/run.err")"

# 19. The device is gone with its owner.
vc --json dev show
[ "$rc" -eq 0 ] && jq_check --argjson dev "$dev" 'all(.id != $dev)'
result "the device is gone once vhostctl run exits"

# 20. bench on /dev/vhost-blk: the same driver, a worker per queue, measured.
vc --json bench --backend "$img" --queues 2 --workers per-vq --rw randrw --iodepth 4 \
	--duration 1 --warmup 0.2
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
jq_check '.target == "vhost-blk" and .layout == "per-vq" and .queues == 2 and .ios > 0 and
	  .rw == "randrw" and .worker_ids == [1, 2] and
	  .iops > 0 and .errors == 0 and .p50_us > 0 and .p99_us >= .p50_us and
	  (.worker_busy_pct | . != null and . > 0) and .rate_iops == null and
	  (.cpu_us_per_io | . != null and . > 0)'
result "bench --backend measures vhost-blk with busy workers and no failed request"

# 20b. bench --rate: paced, never above its schedule (200 a second for a
# second, and what a queue may catch up of its warm-up, 100 ms), CPU time
# per request from /proc/stat.
vc --json bench --backend "$img" --queues 2 --workers per-vq --iodepth 4 --rate 200 \
	--duration 1 --warmup 0.2
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
jq_check '.rate_iops == 200 and .ios > 0 and .ios <= 200 + 2 * (10 + 2) and .errors == 0 and
	  (.cpu_us_per_io | . != null and . > 0)'
result "bench --rate paces vhost-blk's requests and measures their CPU time"

# 20c. bench --workers auto under load: two queues at depth 32 start on one
# worker, which saturates; the policy gives a queue to a second worker of
# its pool while the I/O runs, and no request is lost on the way.
vc --json bench --backend "$img" --queues 2 --workers auto --iodepth 32 --duration 2 \
	--warmup 0.5
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
diag "auto under load: $(printf '%s' "$out" | jq -c '{layout, layout_moves, worker_ids, iops, worker_busy_pct, errors}' 2>/dev/null)"
jq_check '.layout == "auto" and .layout_moves >= 1 and (.worker_ids | unique | length) == 2 and
	  .ios > 0 and .errors == 0'
result "bench --workers auto spreads two saturating queues over two workers, no request lost"

# 20d. ...and at 200 requests a second the queues stay together on one.
vc --json bench --backend "$img" --queues 2 --workers auto --iodepth 1 --rate 200 \
	--duration 2 --warmup 0.5
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
diag "auto at 200 IOPS: $(printf '%s' "$out" | jq -c '{layout, layout_moves, worker_ids, worker_busy_pct}' 2>/dev/null)"
jq_check '.layout == "auto" and .layout_moves == 0 and (.worker_ids | unique | length) == 1 and
	  .ios > 0 and .errors == 0'
result "bench --workers auto keeps two light queues on one worker"

# 20e. The packed ring (VIRTIO_F_RING_PACKED): the same driver lays it out,
# the kernel serves it, and the auto layout moves a saturated queue to a
# worker of its own while requests are in flight on it.  Reads, as in 20c:
# they keep the one worker busy (writes to the file wait on the filesystem,
# not on the worker, which then does not saturate); 20f writes.
vc --json bench --backend "$img" --queues 2 --workers auto --ring packed --iodepth 32 \
	--duration 2 --warmup 0.5
[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
diag "packed, auto: $(printf '%s' "$out" | jq -c '{ring, layout_moves, worker_ids, iops, errors}' 2>/dev/null)"
jq_check '.ring == "packed" and .layout == "auto" and .layout_moves >= 1 and
	  (.worker_ids | unique | length) == 2 and .ios > 0 and .errors == 0'
result "bench --ring packed: the kernel serves packed rings, moved between workers, no request lost"

# 20f. ...and run at depth 1, whose ring has eight entries: a request takes
# three, so the ring wraps, and both sides flip their wrap counters, every
# third request or so, at a different slot each time.
# While it runs, vq show says its ring is packed.
"$VHOSTCTL" --json run --backend "$img" --queues 1 --ring packed --iodepth 1 --rw randrw \
	--duration 3 >"$tmp/packed.out" 2>"$tmp/packed.err" &
packed_pid=$!
rings=
for _ in {1..40}; do
	vc --json vq show active
	rings=$(printf '%s' "$out" | jq -c '[.[].ring] | unique' 2>/dev/null)
	[ "$rings" = '["packed"]' ] && break
	sleep 0.25
done
wait "$packed_pid"
rc=$?
out=$(<"$tmp/packed.out")
[ "$rc" -eq 0 ] || diag "status $rc:" "$(<"$tmp/packed.err")"
[ "$rings" = '["packed"]' ] || diag "vq show active, its rings: $rings"
[ "$rings" = '["packed"]' ] &&
	jq_check '.ring == "packed" and .ios > 16 and .errors == 0'
result "run --ring packed at depth 1 wraps its ring of 8 at every slot, vq show says packed"

# 21. bench on a vhost-user-blk backend: qemu-storage-daemon on the same image.
if command -v qemu-storage-daemon >/dev/null; then
	sock=$tmp/qsd.sock
	qemu-storage-daemon --blockdev driver=file,node-name=file0,filename="$img" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path="$sock",writable=on,num-queues=2 \
		>"$tmp/qsd.log" 2>&1 &
	qsd_pid=$!
	for _ in {1..50}; do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	vc --json bench --vhost-user "$sock" --queues 2 --rw randrw --iodepth 4 --duration 1 \
		--warmup 0.2
	[ "$rc" -eq 0 ] || diag "status $rc:" "$err" "$(<"$tmp/qsd.log")"
	kill "$qsd_pid" 2>/dev/null
	wait "$qsd_pid" 2>/dev/null
	jq_check '.target == "vhost-user" and .queues == 2 and .ios > 0 and .errors == 0 and
		  .worker_busy_pct == null and .layout == null and .busy_poll_us == null'
	result "bench --vhost-user drives qemu-storage-daemon with the same driver"
else
	n=$((n + 1))
	echo "ok $n bench --vhost-user # SKIP qemu-storage-daemon is not installed"
fi

# 22. Busy-polling on both sides: the worker polls its ring, the driver its
# used ring; the kernel reports the timeout bench set on each of its vqs.
"$VHOSTCTL" --json bench --backend "$img" --queues 2 --workers single --rw randread \
	--iodepth 1 --busy-poll 100 --poll 100 --duration 6 --warmup 0.2 \
	>"$tmp/bench.out" 2>"$tmp/bench.err" &
bench_pid=$!
polled=
# For as long as bench runs: a debug kernel takes seconds per vhostctl call.
while kill -0 "$bench_pid" 2>/dev/null; do
	vc --json dev show
	bdev=$(printf '%s' "$out" |
		jq -r --argjson pid "$bench_pid" '.[] | select(.owner_pid == $pid and .backend != null) | .id' 2>/dev/null)
	if [ -n "$bdev" ]; then
		vc --json vq show dev "$bdev"
		polled=$(printf '%s' "$out" | jq -c '[.[] | select(.index < 2) | .busyloop_us]' 2>/dev/null)
		[ "$polled" = "[100,100]" ] && break
	fi
	sleep 0.25
done
wait "$bench_pid"
bench_rc=$?
out=$(<"$tmp/bench.out")
if ! { [ "$polled" = "[100,100]" ] && [ "$bench_rc" -eq 0 ] &&
	jq_check '.target == "vhost-blk" and .busy_poll_us == 100 and .poll_us == 100 and .ios > 0 and
		  .errors == 0'; }; then
	diag "busyloop_us of vqs 0 and 1: ${polled:-none}; bench: $bench_rc" "$(<"$tmp/bench.err")"
	false
fi
result "bench --busy-poll 100: vq show reads busyloop_us 100 back; --poll; no failed request"

[ "$n" -eq "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; fail=$((fail + 1)); }
totals 0
[ "$fail" -eq 0 ]
