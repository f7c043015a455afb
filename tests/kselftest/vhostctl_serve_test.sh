#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhostctl serve against the loaded module, with vhostctl's own vhost-user
# driver (bench --vhost-user) as the frontend: the socket gets the mode and
# group asked before anyone connects, a peer the policy does not allow is
# hung up on, the kernel reports the busy-poll timeout serve set, dev show
# shows the socket, serial and limits of the device serve owns, dev resize
# grows the backend under a running connection, serve removes no file but
# its own socket, and a socket passed by systemd (systemd-socket-activate)
# is served, with READY=1 and STOPPING=1 on NOTIFY_SOCKET; packed rings
# reach the kernel with --packed, and only with it.  Prints TAP; exit 0 if
# every test passed, 4 to skip.

# jq filters name their variables ($pid, $dev) in single quotes.
# shellcheck disable=SC2016
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
VHOSTCTL=${VHOSTCTL:-$top/build/ctl/tool/vhostctl}
# shellcheck source=tests/lib/tap.sh
. "$top/tests/lib/tap.sh"
NOBODY=65534
PLAN=12

pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# vc_nobody ARGS...: as uid and gid 65534, without capabilities.
vc_nobody() {
	out=$(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --inh-caps=-all \
		"$VHOSTCTL" "$@" 2>"$tmp/err")
	rc=$?
	err=$(<"$tmp/err")
}

# wait_for FILE TEXT: until FILE holds TEXT, at most 20 s.
wait_for() {
	local _
	for _ in {1..100}; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	diag "no '$2' in $1:" "$(cat "$1" 2>/dev/null)"
	return 1
}

# served_dev PID: the id of the device process PID owns, if any.
served_dev() {
	local _ id
	for _ in {1..60}; do
		vc --json dev show
		id=$(printf '%s' "$out" |
			jq -r --argjson pid "$1" '.[] | select(.owner_pid == $pid and .backend != null) | .id' 2>/dev/null)
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.25
	done
	return 1
}

[ "$(id -u)" -eq 0 ] || skip_all "must run as root"
[ -c /dev/vhost-blk ] || skip_all "/dev/vhost-blk is missing: load vhost_blk.ko"
[ -x "$VHOSTCTL" ] || skip_all "$VHOSTCTL is not built: make ctl"
command -v jq >/dev/null || skip_all "jq is not installed"
command -v setpriv >/dev/null || skip_all "setpriv is not installed"

tmp=$(mktemp -d /tmp/vhostctl_serve_test.XXXXXX)
chmod 755 "$tmp"
img=$tmp/disk.img
truncate -s 64M "$img"
sock=$tmp/serve.sock
group=$(getent group disk | cut -d: -f3)
group=${group:-6}
export VHOSTCTL_RUNTIME_DIR=$tmp/run

echo "TAP version 13"
echo "1..$PLAN"

# 1. The socket's file has the mode and group asked, and serve says who may connect.
"$VHOSTCTL" serve --socket "$sock" --backend "$img" --queues 2 --workers per-vq \
	--busy-poll 30 --serial serve-0001 --socket-mode 0666 --socket-group "$group" \
	--size-check 0 2>"$tmp/serve.err" &
serve_pid=$!
pids+=("$serve_pid")
wait_for "$tmp/serve.err" "may connect" &&
	[ "$(stat -c '%a %g' "$sock")" = "666 $group" ] &&
	grep -q "uid 0 gid $group may connect" "$tmp/serve.err"
result "serve --socket-mode 0666 --socket-group $group: the file has them, the policy says so"

# 2. uid 65534 reaches the socket (0666) but is no allowed user or group: hung up on.
vc_nobody bench --vhost-user "$sock" --duration 0.5 --warmup 0
[ "$rc" -ne 0 ] && wait_for "$tmp/serve.err" "pid [0-9]* uid $NOBODY gid $NOBODY refused" &&
	! grep -q "connection 1 from" "$tmp/serve.err"
result "a peer of uid $NOBODY is refused before any message (status $rc)"

# 3-5. Root's frontend, until SIGINT after test 5: the device serve owns.
"$VHOSTCTL" --json bench --vhost-user "$sock" --queues 2 --rw randrw --iodepth 2 --duration 100 \
	--warmup 0 >"$tmp/bench.out" 2>"$tmp/bench.err" &
bench_pid=$!
pids+=("$bench_pid")
dev=$(served_dev "$serve_pid")
dev=${dev:-4294967295}

# 3. The kernel reports the busy-poll timeout serve set, which vhost-user cannot carry.
ok=1
for _ in {1..40}; do
	vc --json vq show dev "$dev"
	jq_check 'map(select(.index < 2) | .busyloop_us) == [30, 30]' 2>/dev/null && { ok=0; break; }
	sleep 0.25
done
[ $ok -eq 0 ] || diag "vq show:" "$out"
[ $ok -eq 0 ]
result "serve --busy-poll 30: vq show reads busyloop_us 30 back on vqs 0 and 1 (device $dev)"

# 4. dev show ID: the socket, serial and limits of the device serve owns.
vc --json dev show "$dev"
jq_check --arg sock "$sock" --argjson pid "$serve_pid" \
	'.owner_pid == $pid and .owner_comm == "vhostctl" and .socket == $sock and
	 .serial == "serve-0001" and .read_only == false and .limits.capacity == 131072 and
	 .limits.seg_max == 126 and (.workers | length) == 3 and (.vqs | length) >= 2'
result "dev show $dev: serve's socket, serial serve-0001, read_only false, capacity 131072"

# 5. dev resize grows the backend under the running connection; serve serves it.
vc --json dev resize "$dev" size 96M
jq_check --argjson dev "$dev" '.id == $dev and .capacity == 196608' &&
	[ "$(stat -c %s "$img")" -eq $((96 << 20)) ] &&
	wait_for "$tmp/serve.err" "the backend grew from 67108864 to 100663296 bytes" &&
	vc --json dev show "$dev" && jq_check '.limits.capacity == 196608'
result "dev resize $dev size 96M: the file grows, serve serves 196608 sectors"
kill -INT "$bench_pid"
wait "$bench_pid"
bench_rc=$?
out=$(<"$tmp/bench.out")
if ! { [ "$bench_rc" -eq 0 ] && jq_check '.target == "vhost-user" and .ios > 0 and .errors == 0'; }; then
	diag "bench through the resize: status $bench_rc" "$(<"$tmp/bench.err")"
fi

# 6. serve removes its own socket file, and no other: a file that took its
# path meanwhile stays.
mv "$sock" "$sock.moved"
echo "not serve's" >"$sock"
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_rc=$?
[ "$serve_rc" -eq 0 ] && [ "$(cat "$sock")" = "not serve's" ] && [ -S "$sock.moved" ] &&
	[ ! -e "$VHOSTCTL_RUNTIME_DIR/serve.$serve_pid.json" ]
result "SIGTERM: status $serve_rc, another file at the socket's path left alone, the record gone"
rm -f "$sock" "$sock.moved"

# 7-9. A socket passed by systemd's socket activation, and readiness on NOTIFY_SOCKET.
if ! command -v systemd-socket-activate >/dev/null || [ ! -x /usr/bin/python3 ]; then
	for _ in 7 8 9; do
		n=$((n + 1))
		echo "ok $n socket activation # SKIP systemd-socket-activate or python3 is missing"
	done
else
	notify=$tmp/notify
	# The service manager's end of NOTIFY_SOCKET: every datagram, a line each.
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$notify" "$tmp/notify.log" &
	pids+=("$!")
	wait_for_sock() { for _ in {1..50}; do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
	wait_for_sock "$notify"
	asock=$tmp/activated.sock
	systemd-socket-activate -l "$asock" -E NOTIFY_SOCKET="$notify" \
		-E VHOSTCTL_RUNTIME_DIR="$VHOSTCTL_RUNTIME_DIR" \
		"$VHOSTCTL" serve --backend "$img" --serial activated-1 2>"$tmp/activated.err" &
	act_pid=$!
	pids+=("$act_pid")
	wait_for_sock "$asock"

	# 7. The first connection starts serve on the passed socket, which serves it.
	vc --json bench --vhost-user "$asock" --rw randread --iodepth 2 --duration 1 --warmup 0
	if ! { [ "$rc" -eq 0 ] && jq_check '.ios > 0 and .errors == 0' &&
		grep -q "(passed by the service manager)" "$tmp/activated.err"; }; then
		diag "bench: status $rc: $err" "$(<"$tmp/activated.err")"
		false
	fi
	result "a socket-activated serve (LISTEN_FDS) serves the connection that started it"

	# 8. It said READY=1, and records the socket as passed.
	rec=$VHOSTCTL_RUNTIME_DIR/serve.$act_pid.json
	if ! { grep -q "^READY=1 STATUS=serving $img on $asock" "$tmp/notify.log" &&
		jq -e --arg sock "$asock" '.socket == $sock and .socket_activated and
			.serial == "activated-1"' "$rec" >/dev/null; }; then
		diag "notify:" "$(cat "$tmp/notify.log")" "record:" "$(cat "$rec" 2>&1)"
		false
	fi
	result "READY=1 on NOTIFY_SOCKET, and the record says socket-activated"

	# 9. SIGTERM: STOPPING=1, status 0, and the socket, systemd's, left in place.
	kill -TERM "$act_pid"
	wait "$act_pid"
	act_rc=$?
	if ! { [ "$act_rc" -eq 0 ] && grep -qx "STOPPING=1" "$tmp/notify.log" && [ -S "$asock" ]; }; then
		diag "status $act_rc; notify:" "$(cat "$tmp/notify.log")"
		false
	fi
	result "SIGTERM: STOPPING=1, status $act_rc, the passed socket's file left to its maker"
fi
diag "serve:" "$(cat "$tmp/serve.err")"

# 10. serve --workers auto: two queues at depth 32 start on one worker, which
# saturates; serve moves one to a worker of its pool while the frontend's
# I/O runs (and says so), and no request fails.
asock=$tmp/auto.sock
"$VHOSTCTL" serve --socket "$asock" --backend "$img" --queues 2 --workers auto \
	--size-check 0 2>"$tmp/auto.err" &
auto_pid=$!
pids+=("$auto_pid")
auto_ok() {
	wait_for "$tmp/auto.err" "may connect" || return 1
	vc --json bench --vhost-user "$asock" --queues 2 --iodepth 32 --duration 2 --warmup 0.5
	diag "bench: $(printf '%s' "$out" | jq -c '{iops, ios, errors}' 2>/dev/null)"
	[ "$rc" -eq 0 ] && jq_check '.ios > 0 and .errors == 0' || return 1
	wait_for "$tmp/auto.err" "auto layout: vq [01] from worker 0 to [1-9]" || return 1
	diag "$(grep 'auto layout\|workers auto' "$tmp/auto.err")"
}
auto_ok
result "serve --workers auto moves a saturating queue to a second worker, no request failed"

# 11. Without --packed, serve does not offer VIRTIO_F_RING_PACKED: a driver
# that wants a packed ring fails at negotiation, in one line that says so.
vc --json bench --vhost-user "$asock" --ring packed --duration 0.5 --warmup 0
[ "$rc" -ne 0 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
	[[ $err == *"--ring packed"* ]] || diag "status $rc, stdout '$out', stderr:" "$err"
[ "$rc" -ne 0 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
	[[ $err == *"--ring packed"* ]]
result "serve without --packed: a packed ring is refused in one line (status $rc)"
kill -TERM "$auto_pid"
wait "$auto_pid"

# 12. serve --packed: the frontend's packed rings reach the kernel, which
# serves them on two queues at once.
psock=$tmp/packed.sock
"$VHOSTCTL" serve --socket "$psock" --backend "$img" --queues 2 --workers per-vq --packed \
	--size-check 0 2>"$tmp/packed.err" &
packed_pid=$!
pids+=("$packed_pid")
packed_ok() {
	wait_for "$tmp/packed.err" "packed virtqueues offered" || return 1
	vc --json bench --vhost-user "$psock" --ring packed --queues 2 --rw randrw --iodepth 16 \
		--duration 1 --warmup 0.2
	diag "bench: $(printf '%s' "$out" | jq -c '{ring, iops, ios, errors}' 2>/dev/null)"
	[ "$rc" -eq 0 ] || diag "status $rc:" "$err"
	[ "$rc" -eq 0 ] && jq_check '.ring == "packed" and .queues == 2 and .ios > 0 and .errors == 0'
}
packed_ok
result "serve --packed: a packed ring of the frontend's is served by the kernel, no request failed"
kill -TERM "$packed_pid"
wait "$packed_pid"

[ "$n" -eq "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; fail=$((fail + 1)); }
totals 0
[ "$fail" -eq 0 ]
