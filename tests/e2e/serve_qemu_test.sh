#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhostctl serve behind an unmodified QEMU, end to end, against the loaded
# module.  "vhostctl serve" serves a 64 MiB file in /tmp on a vhost-user-blk
# socket with two queues and a worker per queue, busy-polling 20 us; the
# socket is systemd's (systemd-socket-activate: serve starts on QEMU's
# connection and takes the socket from LISTEN_FDS), as vhostctl-serve@.socket
# makes it.  A nested QEMU (TCG) boots the running kernel (or
# E2E_GUEST_KERNEL) with the initramfs of tests/e2e/mkguest, whose init
# writes a pattern at a few offsets of /dev/vda with O_DIRECT, reads it
# back and compares the sums, then reloads virtio_blk (a device reset: QEMU
# stops and restarts the rings on the same connection) and reads it again.
# While the guest holds, the module's tables must show the served device
# (owned by serve, its vqs on their own workers, requests and bytes
# counted, the busy-poll timeout read back; dev show with serve's socket and
# serial), and "vhostctl dev resize" must grow the backend to 96 MiB under
# the running guest, which must see the new size (CONFIG_CHANGE_MSG); then
# the backend file must hold the pattern,
# serve must outlive the guest's hang-up and take another connection, and
# SIGTERM must end it with status 0.  With --packed, serve offers packed
# virtqueues and QEMU takes them (packed=on): the guest's own virtio driver
# then lays out packed rings, which the module serves.  Runs inside a
# vm-run guest:
#   scripts/vm-run --kernel 6.12 --load --mem 3072 --timeout 600 -- \
#       tests/e2e/serve_qemu_test.sh [--packed]
# Prints TAP; exit 0 if every test passed, 4 to skip.

# jq filters name their variables ($pid, $img) in single quotes.
# shellcheck disable=SC2016
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
VHOSTCTL=${VHOSTCTL:-$top/build/ctl/tool/vhostctl}
# shellcheck source=tests/lib/tap.sh
. "$top/tests/lib/tap.sh"
SOCK=${E2E_SOCKET:-/run/vhostctl-serve-e2e.sock}
QUEUES=2
# The nested guest's vCPUs (E2E_VCPUS, default 2: one queue each, and faster
# than one).  virtio_blk uses a queue per CPU at most: with one vCPU, vq 0
# alone.
VCPUS=${E2E_VCPUS:-2}
GUEST_QUEUES=$((VCPUS < QUEUES ? VCPUS : QUEUES))
SERIAL=e2e-serve-0001
# MiB offset:length of the regions the guest writes; the last one ends the
# disk.  Each MiB costs the nested guest some 4 s.
REGIONS=0:1,17:2,63:1
# The MiB the guest writes, then discards: it must read zeros.
DISCARD=40
PLAN=11

ring=split
case ${1:-} in
"") ;;
--packed) ring=packed ;;
*)
	echo "usage: serve_qemu_test.sh [--packed]" >&2
	exit 2
	;;
esac

# shellcheck source=tests/e2e/nested.sh
. "$top/tests/e2e/nested.sh"
[ $ring = split ] || nested_disk_props=,packed=on

serve_pid=

cleanup() {
	nested_stop
	# The last run's consoles, for a look after the VM is gone.
	if [ -n "$tmp" ] && mkdir -p "$top/build/e2e" 2>/dev/null; then
		cp "$tmp/guest.log" "$top/build/e2e/serve_qemu_test.guest.log" 2>/dev/null
		cp "$tmp/serve.err" "$top/build/e2e/serve_qemu_test.serve.log" 2>/dev/null
	fi
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -KILL "$serve_pid" 2>/dev/null
		wait "$serve_pid" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
# A timeout's SIGTERM must not leave QEMU or the device's owner running.
trap 'exit 130' INT TERM

# guest_lines: the guest's "E2E" lines, as diagnostics.
guest_lines() {
	diag "$(grep -a '^E2E ' "$tmp/guest.log" | tr -d '\r')"
}

# guest_tail: the end of the guest's console and QEMU's output, on failure.
guest_tail() {
	diag "guest console (last lines):" "$(tail -n 25 "$tmp/guest.log" | tr -d '\r')"
	[ -s "$tmp/qemu.out" ] && diag "qemu:" "$(<"$tmp/qemu.out")"
	diag "vhostctl serve:" "$(<"$tmp/serve.err")"
}

nested_require

tmp=$(mktemp -d /tmp/serve_qemu_test.XXXXXX)
img=$tmp/disk.img
truncate -s 64M "$img"
t0=$SECONDS

echo "TAP version 13"
echo "1..$PLAN"

# 1. The socket listens: systemd's, serve to start on the first connection
# (or serve's own, without systemd-socket-activate).  Not niced: in task
# mode its workers, which carry the guest's I/O, are its threads and would
# inherit the nice value.  The workers busy-poll their rings briefly:
# QEMU's ioeventfd kicks and irqfd calls must work with it.
serve=("$VHOSTCTL" serve --backend "$img" --queues "$QUEUES" --workers per-vq --busy-poll 20
	--serial "$SERIAL")
[ $ring = split ] || serve+=(--packed)
rm -f "$SOCK"
if command -v systemd-socket-activate >/dev/null; then
	activated=1
	systemd-socket-activate -l "$SOCK" "${serve[@]}" 2>"$tmp/serve.err" &
else
	activated=
	"${serve[@]}" --socket "$SOCK" 2>"$tmp/serve.err" &
fi
serve_pid=$!
for _ in {1..100}; do
	[ -S "$SOCK" ] && break
	kill -0 "$serve_pid" 2>/dev/null || break
	sleep 0.2
done
[ -S "$SOCK" ] && kill -0 "$serve_pid" 2>/dev/null
result "the socket listens on $SOCK (pid $serve_pid${activated:+, socket-activated})"

# 2. The nested guest boots and finds the disk with its queues and serial.
nested_start "$tmp" "$SOCK" $QUEUES "e2e.regions=$REGIONS e2e.reload=1 e2e.discard=$DISCARD e2e.hold=120" "$VCPUS"
if ! nested_wait '^E2E (DISK|VERIFY FAIL)' 240; then
	guest_tail
	false
else
	grep -qa "^E2E DISK vda 131072 sectors, $GUEST_QUEUES queues, serial $SERIAL" "$tmp/guest.log" &&
		{ [ -z "$activated" ] || grep -q " on $SOCK (passed by the service manager)" "$tmp/serve.err"; }
fi
result "the nested guest sees vda: 64 MiB, $GUEST_QUEUES queue(s), serial $SERIAL ($((SECONDS - t0)) s)"

# 3. It writes, reads back and verifies its pattern, and again after the
# reload, which QEMU follows by starting the device again (a second memory
# table) and serve by detaching and attaching the backend; a discarded MiB
# reads as zeros.
restarted() {
	[ "$(sed -n '/connection 1 from/,$p' "$tmp/serve.err" | grep -c 'memory table')" -ge 2 ] ||
		{ diag "serve did not see the device start again"; return 1; }
}
if nested_wait '^E2E (HOLD|VERIFY FAIL)' 180; then
	guest_lines
	grep -qa '^E2E VERIFY OK' "$tmp/guest.log" && grep -qa '^E2E RELOAD' "$tmp/guest.log" &&
		grep -qa '^E2E DISCARD.* OK' "$tmp/guest.log" && restarted
else
	guest_lines
	guest_tail
	false
fi
result "the nested guest reads back what it wrote, also after a driver reload; discard ($((SECONDS - t0)) s)"

# 4. While it holds, the module shows the served device: serve owns it, the
# backend is our file, and the guest's requests were counted on a ring
# served by a worker of its own.
vc --json dev show
dev=$(printf '%s' "$out" |
	jq -r --argjson pid "$serve_pid" '.[] | select(.owner_pid == $pid) | .id' 2>/dev/null)
jq_check --argjson pid "$serve_pid" --arg img "$img" \
	'map(select(.owner_pid == $pid)) | length == 1 and .[0].backend == $img and
	 .[0].backend_size == 67108864 and .[0].num_workers == 3'
[ -n "$dev" ] || dev=4294967295
vc --json dev show "$dev"
jq_check --arg sock "$SOCK" --arg serial "$SERIAL" \
	'.socket == $sock and .serial == $serial and .owner_comm == "vhostctl" and
	 .limits.capacity == 131072 and (.workers | length) == 3'
result "the served device ${dev} is owned by serve, backs onto the file, 3 workers, its socket and serial"
diag "vhostctl --json dev show $dev:" "$("$VHOSTCTL" --json dev show "$dev" 2>&1)"

# 5. The guest's I/O went through the kernel: requests and bytes counted,
# no error, each vq on its own worker (per-vq), on the rings' layout.  The guest wrote every region
# once and read it twice, with O_DIRECT.  The vqs the guest uses are active
# (with one vCPU, vq 1 is bound but idle).
total_mib=0
offsets=
for reg in ${REGIONS//,/ }; do
	total_mib=$((total_mib + ${reg#*:}))
	offsets+="${offsets:+, }${reg%%:*}"
done
vc --json vq show dev "$dev"
vqs=$out
out=$(printf '%s' "$vqs" | jq -c --argjson q $QUEUES 'map(select(.index < $q))' 2>/dev/null)
diag "vq show: $(printf '%s' "$out" | jq -c 'map({index, ring, worker_id, active, requests, bytes, kicks, errors})' 2>/dev/null)"
jq_check --argjson min $((3 * total_mib * 1048576)) --argjson used "$GUEST_QUEUES" --arg ring $ring \
	'length == 2 and map(.worker_id) == [1, 2] and all(.errors == 0) and
	 (map(select(.active)) | length) == $used and (map(.requests) | add) > 0 and
	 (map(.bytes) | add) >= $min and all(.busyloop_us == 20) and all(.ring == $ring)'
result "vq show: the guest's requests and bytes were served in the kernel on $ring rings, vqs 0 and 1 on workers 1 and 2, busy-polling 20 us"

# 6. The workers are threads of serve (task mode) or kthreads named after it.
vc --json worker show dev "$dev"
workers_ok() {
	local tid
	jq_check 'length == 3 and ([.[].id] | sort) == [0, 1, 2]' || return 1
	for tid in $(printf '%s' "$out" | jq -r '.[].tid'); do
		if [ ! -d "/proc/$serve_pid/task/$tid" ] &&
		   [ "$(cat "/proc/$tid/comm" 2>/dev/null)" != "vhost-$serve_pid" ]; then
			diag "worker thread $tid belongs neither to serve nor is it vhost-$serve_pid"
			return 1
		fi
	done
	diag "workers: $(printf '%s' "$out" | jq -c 'map({id, tid, vqs})')"
}
workers_ok
result "worker show: workers 0, 1, 2 of serve (pid $serve_pid)"

# 7. The backend grows under the running guest: dev resize has serve serve
# 96 MiB, serve sends CONFIG_CHANGE_MSG, QEMU reads the config space again
# and tells the guest, whose vda grows.
resized_ok() {
	vc --json dev resize "$dev" size 96M
	jq_check '.capacity == 196608' || return 1
	nested_send "resize 196608"
	if ! nested_wait '^E2E RESIZE' 60; then
		guest_tail
		return 1
	fi
	guest_lines
	grep -qa '^E2E RESIZE vda 196608 sectors OK' "$tmp/guest.log" &&
		grep -q 'the backend grew from 67108864 to 100663296 bytes' "$tmp/serve.err"
}
resized_ok
result "dev resize $dev size 96M: the nested guest sees vda grow to 196608 sectors ($((SECONDS - t0)) s)"

# 8. The guest powers off by itself; QEMU exits 0.
nested_send go
if nested_reap 60; then
	[ "$nested_rc" -eq 0 ] || { diag "qemu exit $nested_rc"; guest_tail; false; }
else
	guest_tail
	false
fi
result "the nested guest powers off and QEMU exits 0 ($((SECONDS - t0)) s)"

# 9. The backend file holds the pattern, read here, past the guest.
file_ok() {
	local reg off len want got bad=0
	for reg in ${REGIONS//,/ }; do
		off=${reg%%:*}
		len=${reg#*:}
		want=$(nested_pattern_sum "$off" "$len")
		got=$(dd if="$img" bs=1M skip="$off" count="$len" 2>/dev/null | sha256sum)
		got=${got%% *}
		if [ "$got" = "$want" ]; then
			diag "file at $off MiB, $len MiB: $got"
		else
			diag "file at $off MiB, $len MiB: $got, want $want"
			bad=1
		fi
	done
	want=$(head -c 1048576 /dev/zero | sha256sum)
	got=$(dd if="$img" bs=1M skip="$DISCARD" count=1 2>/dev/null | sha256sum)
	if [ "$got" = "$want" ]; then
		diag "file at $DISCARD MiB, discarded: zeros"
	else
		diag "file at $DISCARD MiB, discarded: ${got%% *}, not zeros"
		bad=1
	fi
	return $bad
}
file_ok
result "the backend file holds the guest's pattern at MiB $offsets, zeros at $DISCARD"

# 10. serve outlives the hang-up: the device is closed, and the socket takes
# another connection (vhostctl's own vhost-user driver) that does I/O.
again_ok() {
	for _ in {1..50}; do
		grep -q 'connection 1 closed by the frontend' "$tmp/serve.err" && break
		sleep 0.2
	done
	if ! grep -q 'connection 1 closed by the frontend' "$tmp/serve.err"; then
		diag "serve did not see the hang-up"
		return 1
	fi
	kill -0 "$serve_pid" 2>/dev/null || { diag "serve is gone"; return 1; }
	vc --json dev show
	jq_check --argjson pid "$serve_pid" 'all(.owner_pid != $pid)' || return 1
	vc --json bench --vhost-user "$SOCK" --queues $QUEUES --rw randrw --bs 4k --iodepth 4 \
		--duration 1 --warmup 0
	if [ "$rc" -ne 0 ]; then
		diag "bench --vhost-user: status $rc" "$err"
		return 1
	fi
	diag "second connection: $(printf '%s' "$out" | jq -c '{ios, iops, errors}')"
	jq_check '.ios > 0 and .errors == 0'
}
again_ok
result "serve outlives the guest's hang-up and serves a second connection"

# 11. SIGTERM: status 0, the socket gone, no message refused on the way.
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_rc=$?
serve_pid=
diag "vhostctl serve:" "$(<"$tmp/serve.err")"
# A socket passed by the service manager is its own, left in place.
if [ -n "$activated" ]; then
	sock_end="left to systemd"
	[ -S "$SOCK" ]
else
	sock_end=removed
	[ ! -e "$SOCK" ]
fi && [ "$serve_rc" -eq 0 ] && ! grep -qE 'refused|dropped after an error|unexpected|error:' "$tmp/serve.err"
result "SIGTERM ends serve with status 0 ($serve_rc), the socket $sock_end, nothing refused"
rm -f "$SOCK"

diag "wall time $((SECONDS - t0)) s"
[ "$n" -eq "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; fail=$((fail + 1)); }
totals 0
[ "$fail" -eq 0 ]
