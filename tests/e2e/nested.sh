# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# nested_rc and friends are for the caller.
# shellcheck disable=SC2034
#
# Helpers of the end-to-end tests, sourced: boot an unmodified QEMU whose
# only disk is a vhost-user-blk-pci device on a "vhostctl serve" socket, with
# the nested guest of tests/e2e/mkguest, and talk to its serial console.
# Functions and variables only; the caller sets "set -u" and cleans up with
# nested_stop.
#
#   nested_start DIR SOCKET QUEUES APPEND [VCPUS [QEMU-ARG...]]
#       boot the running kernel in the background under TCG, with VCPUS
#       vCPUs (default 2) and any more QEMU arguments; SOCKET "-" gives the
#       guest no vhost-user disk (the QEMU-ARGs bring one); the console goes to
#       DIR/guest.log, a line for the guest goes through nested_send; sets
#       nested_pid (and nested_cat, nested_dir: a caller that runs two
#       QEMUs keeps each one's three and puts them back to talk to it)
#   nested_wait REGEX SECONDS   wait until the console shows a line matching
#                               REGEX (0) or QEMU is gone or the time is up (1)
#   nested_send LINE            a line on the guest's console input
#   nested_reap SECONDS         wait for QEMU to end; its status in nested_rc
#   nested_stop                 kill QEMU if it still runs
# E2E_APPEND adds kernel parameters of the nested guest ("loglevel=7" undoes
# "quiet"); E2E_GUEST_KERNEL names the release it boots, by default the
# running one (the debug lane's host kernel is too slow to nest: there the
# nested guest boots Debian's 6.12).

# nested_qemu: the QEMU binary (the system's unless set); nested_qemu_args:
# arguments every nested_start adds (the patched QEMU's -L);
# nested_disk_props: properties added to the vhost-user disk (",packed=on").
nested_qemu=${nested_qemu:-qemu-system-x86_64}
nested_qemu_args=()
nested_disk_props=${nested_disk_props:-}

# nested_require: skip the whole suite (skip_all, tests/lib/tap.sh) unless
# this machine can run a nested guest on serve: root, the module, vhostctl,
# QEMU, jq, busybox and the guest's kernel with virtio_blk.
nested_require() {
	[ "$(id -u)" -eq 0 ] || skip_all "must run as root"
	[ -c /dev/vhost-blk ] || skip_all "/dev/vhost-blk is missing: load vhost_blk.ko"
	[ -x "$VHOSTCTL" ] || skip_all "$VHOSTCTL is not built: make ctl"
	command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is not installed"
	command -v jq >/dev/null || skip_all "jq is not installed"
	[ -x /bin/busybox ] || skip_all "busybox-static is not installed"
	local krel
	krel=$(nested_release)
	[ -r "/boot/vmlinuz-$krel" ] || skip_all "no /boot/vmlinuz-$krel for the nested guest"
	modprobe -n -S "$krel" virtio_blk 2>/dev/null ||
		skip_all "no virtio_blk module for $krel"
}

# The nested guest's CPU model.
nested_cpu=max
nested_pid=
nested_cat=
nested_dir=
nested_rc=

# The release the nested guest boots.
nested_release() {
	echo "${E2E_GUEST_KERNEL:-$(uname -r)}"
}

# Its image: the unpacked ELF that vm-run made (PVH entry, no
# decompression) when there is one.
nested_kernel() {
	local krel elf
	krel=$(nested_release)
	elf=${VHB_BUILD:-$top/build}/vm/$krel/vmlinux
	if [ -s "$elf" ] && [ "$elf" -nt "/boot/vmlinuz-$krel" ]; then
		echo "$elf"
	else
		echo "/boot/vmlinuz-$krel"
	fi
}

nested_start() {
	local dir=$1 sock=$2 queues=$3 append=$4 vcpus=${5:-2} initrd cmdline bios=() disk=()
	shift $(($# < 5 ? $# : 5))
	nested_dir=$dir
	initrd=$("$top/tests/e2e/mkguest" "$(nested_release)") || return 1
	# A pipe chardev: QEMU opens DIR/ser.in and DIR/ser.out read-write, so
	# neither end blocks; cat copies the output to the log.
	rm -f "$dir/ser.in" "$dir/ser.out"
	mkfifo "$dir/ser.in" "$dir/ser.out" || return 1
	: >"$dir/guest.log"
	cat "$dir/ser.out" >>"$dir/guest.log" &
	nested_cat=$!
	# The guest memory must be shareable (memfd, share=on) for the backend
	# to map it.  Everything else is for speed, TCG inside TCG costing some
	# 50 times the host's time: two vCPUs (multi-threaded TCG: faster than
	# one), qboot rather than SeaBIOS (which would also drive the disk), the
	# unpacked kernel, no crypto self-tests, a quiet console.  The guest
	# needs PCI, virtio and a console, nothing else the kernel starts at
	# boot: no ACPI (qboot's MP table gives the vCPUs, MSI-X the virtio
	# interrupts), one UART probed, and none of the initcalls that cost the
	# most there and serve nothing here (the jitter entropy self-test, the
	# built-in certificates, IPv6, the KDF and encrypted-key self-tests,
	# IMA, the PS/2 and CMOS RTC drivers, BPF's struct_ops).  Booting to
	# the disk took 54-64 s of the guest's time without these, 39 with.
	[ -r /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)
	cmdline="console=ttyS0 panic=-1 quiet tsc=reliable no_timer_check"
	cmdline+=" cryptomgr.notests mitigations=off acpi=off 8250.nr_uarts=1"
	cmdline+=" initcall_blacklist=jent_mod_init,load_system_certificate_list"
	cmdline+=",inet6_init,crypto_kdf108_init,init_encrypted,init_ima,i8042_init"
	cmdline+=",cmos_init,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init"
	cmdline+=" $append ${E2E_APPEND:-}"
	[ "$sock" = - ] ||
		disk=(-chardev "socket,id=c0,path=$sock"
			-device "vhost-user-blk-pci,chardev=c0,num-queues=$queues$nested_disk_props")
	timeout --kill-after=5 400 "$nested_qemu" "${nested_qemu_args[@]}" \
		-accel tcg -cpu "$nested_cpu" -smp "$vcpus" -m 128 \
		-machine pc,memory-backend=mem -nodefaults -display none -no-reboot \
		-monitor none "${bios[@]}" \
		-object memory-backend-memfd,id=mem,size=128M,share=on \
		-kernel "$(nested_kernel)" -initrd "$initrd" \
		-append "$cmdline" \
		-chardev "pipe,id=ser,path=$dir/ser" -serial chardev:ser \
		"${disk[@]}" "$@" </dev/null >"$dir/qemu.out" 2>&1 &
	nested_pid=$!
}

nested_wait() {
	local re=$1 deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		grep -qaE "$re" "$nested_dir/guest.log" && return 0
		kill -0 "$nested_pid" 2>/dev/null || break
		sleep 0.5
	done
	grep -qaE "$re" "$nested_dir/guest.log"
}

nested_send() {
	# Read-write: opening a FIFO so never blocks, even once QEMU is gone.
	printf '%s\n' "$1" 1<>"$nested_dir/ser.in"
}

nested_reap() {
	local deadline=$((SECONDS + $1))
	nested_rc=
	while kill -0 "$nested_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.5
	done
	kill -0 "$nested_pid" 2>/dev/null && return 1
	wait "$nested_pid"
	nested_rc=$?
	nested_pid=
	wait "$nested_cat" 2>/dev/null
	nested_cat=
	return 0
}

nested_stop() {
	# nested_pid is timeout(1): it passes SIGTERM on to QEMU, and kills it
	# 5 s later if need be.
	if [ -n "$nested_pid" ] && kill -0 "$nested_pid" 2>/dev/null; then
		kill -TERM "$nested_pid" 2>/dev/null
		wait "$nested_pid" 2>/dev/null
	fi
	nested_pid=
	if [ -n "$nested_cat" ]; then
		kill "$nested_cat" 2>/dev/null
		wait "$nested_cat" 2>/dev/null
	fi
	nested_cat=
}

# nested_pattern_sum MIB LEN: the SHA-256 of what the guest writes at MIB
# (its "yes LINE | head -c": here awk writes exactly that much, so that no
# writer dies of SIGPIPE in a script that sets pipefail).
nested_pattern_sum() {
	local sum
	sum=$(awk -v l="vhost-blk e2e pattern at MiB $1" -v n=$(($2 * 1048576)) 'BEGIN {
		l = l "\n"
		for (; n >= length(l); n -= length(l))
			printf "%s", l
		printf "%s", substr(l, 1, n)
	}' | sha256sum)
	echo "${sum%% *}"
}
