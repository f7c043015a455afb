#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Packaging, on the host, for each kernel given: the module builds through
# DKMS against that kernel's headers (in a scratch DKMS tree, never the
# host's), and 'make install' into a scratch root puts the module, its
# aliases, the udev rule and the uapi header where a distribution expects
# them; modinfo shows the version, the parameters and the aliases.  Then
# the userspace half: vhostctl and its library, the systemd units of
# vhostctl serve (which systemd-analyze verify accepts without a word), the
# example of an instance's options, and the bash completion.
# Prints TAP and a kselftest "Totals" line.
#
#   tests/packaging/install_test.sh RELEASE...
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
version=$("$top/scripts/lib/version")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

n=0 pass=0 fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
	fi
}

echo "TAP version 13"
echo "1..$((6 * $# + 4))"

# The source tree DKMS gets, as 'make dkms-install' lays it out.
make -s -C "$top" dkms-source DESTDIR="$scratch/src-root" >/dev/null 2>"$scratch/src.err"
src=$scratch/src-root/usr/src
dkms_args=(--dkmstree "$scratch/dkms" --sourcetree "$src" --installtree "$scratch/installed")
mkdir -p "$scratch/dkms" "$scratch/installed" "$scratch/var-lib-dkms"

# DKMS signs what it builds, creating a key in /var/lib/dkms if there is
# none: give it a scratch one in a private mount namespace, so that nothing
# of the host's changes.
sandboxed_dkms() {
	unshare --mount --propagation private -- sh -c \
		'mount --bind "$0" /var/lib/dkms && exec dkms "$@"' \
		"$scratch/var-lib-dkms" "$@" "${dkms_args[@]}"
}
sandboxed_dkms add -m vhost-blk -v "$version" >"$scratch/add.out" 2>&1 ||
	cat "$scratch/add.out" >&2

for k in "$@"; do
	# 1: DKMS builds the module for this kernel.
	out=$(sandboxed_dkms build -m vhost-blk -v "$version" -k "$k" 2>&1)
	rc=$?
	ko=$scratch/dkms/vhost-blk/$version/$k/x86_64/module/vhost_blk.ko
	[ -f "$ko" ] || ko=$(find "$scratch/dkms" -path "*/$k/*" -name 'vhost_blk.ko*' | sed -n 1p)
	[ $rc -eq 0 ] && [ -n "$ko" ] && [ -f "$ko" ]
	ok $? "$k: dkms build" "$(printf '%s\n' "$out" | tail -n 15; cat "$scratch/src.err")"

	# 2: what DKMS built is a module for this kernel, with our version.
	info=$(modinfo "$ko" 2>&1)
	printf '%s\n' "$info" | grep -x "vermagic: *$k SMP.*" >/dev/null &&
		printf '%s\n' "$info" | grep -x "version: *$version" >/dev/null
	ok $? "$k: the DKMS module is for $k and reports version $version" "$info"

	# 3-5: make install into a scratch root.
	root=$scratch/root-$k
	out=$(make -s -C "$top" install-module install-udev install-headers \
		DESTDIR="$root" KVER="$k" PREFIX=/usr 2>&1)
	mod=$root/lib/modules/$k/updates/vhost_blk.ko
	[ -f "$mod" ]
	ok $? "$k: make install puts the module in /lib/modules/$k/updates" "$out"
	grep -qx 'alias devname:vhost-blk vhost_blk' "$root/lib/modules/$k/modules.alias" &&
		grep -qx 'alias char-major-10-243 vhost_blk' "$root/lib/modules/$k/modules.alias" &&
		grep -qx 'alias net-pf-16-proto-16-family-vhost_blk vhost_blk' "$root/lib/modules/$k/modules.alias" &&
		grep -qx 'vhost_blk vhost-blk c10:243' "$root/lib/modules/$k/modules.devname"
	ok $? "$k: depmod publishes the device, char-major and netlink family aliases" \
		"$(grep -h vhost "$root/lib/modules/$k/modules.alias" "$root/lib/modules/$k/modules.devname" 2>&1)"
	grep -q '^KERNEL=="vhost-blk", GROUP="kvm", MODE="0660"' \
		"$root/usr/lib/udev/rules.d/60-vhost-blk.rules" &&
		cmp -s "$top/uapi/linux/vhost_blk.h" "$root/usr/include/linux/vhost_blk.h"
	ok $? "$k: the udev rule and the uapi header are installed"

	# 6: modinfo of the installed module: version, parameters, aliases.
	info=$(modinfo "$mod" 2>&1)
	for want in "version: *$version" 'parm: *max_queues:.*' 'parm: *max_mem_regions:.*' \
		'parm: *kthread_max_workers:.*' 'alias: *devname:vhost-blk' \
		'alias: *char-major-10-243' 'alias: *net-pf-16-proto-16-family-vhost_blk'; do
		printf '%s\n' "$info" | grep -x "$want" >/dev/null || { echo "# missing: $want"; false; } || break
	done
	ok $? "$k: modinfo shows the version, the parameters and the aliases" "$info"
done

# Last: the userspace half, once: vhostctl, its man page, the library with
# its headers and pkg-config file.
root=$scratch/root-ctl
out=$(make -s -C "$top" install-ctl DESTDIR="$root" PREFIX=/usr 2>&1)
rc=$?
pc=$(find "$root/usr/lib" -name vhostctl.pc | sed -n 1p)
[ $rc -eq 0 ] && [ -x "$root/usr/bin/vhostctl" ] &&
	"$root/usr/bin/vhostctl" --version | grep -x "vhostctl $version" >/dev/null &&
	grep -q '^\.TH "*VHOSTCTL"* *"*8' "$root/usr/share/man/man8/vhostctl.8" &&
	[ -f "$root/usr/include/vhostctl/device.hpp" ] &&
	[ -f "$root/usr/include/linux/vhost_blk.h" ] &&
	[ -n "$pc" ] && grep -qx "Version: ${version%%[+-]*}.*" "$pc"
ok $? "make install-ctl installs vhostctl $version, its man page, the library and vhostctl.pc" \
	"$out$(cd "$root" 2>/dev/null && find . -type f)"

# The units of vhostctl serve, as systemd reads them: an instance of each,
# whose ExecStart names the binary just installed (verify wants it there).
units=$root/usr/lib/systemd/system
check=$scratch/units
mkdir -p "$check"
grep -qx 'ExecStart=/usr/bin/vhostctl serve --config /etc/vhostctl/serve/%i.conf' \
	"$units/vhostctl-serve@.service" 2>/dev/null &&
	sed "s|/usr/bin/vhostctl|$root/usr/bin/vhostctl|" "$units/vhostctl-serve@.service" \
		>"$check/vhostctl-serve@check.service" &&
	cp "$units/vhostctl-serve@.socket" "$check/vhostctl-serve@check.socket"
out=$(cd "$check" && systemd-analyze verify --man=no ./vhostctl-serve@check.service \
	./vhostctl-serve@check.socket 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ]
ok $? "systemd-analyze verify accepts vhostctl-serve@.service and .socket, without a warning" \
	"exit $rc: $out"

# The example of an instance's options is one serve reads: it gets as far
# as opening the backend it names (the socket would come from systemd).
out=$("$root/usr/bin/vhostctl" serve --config "$root/usr/share/doc/vhostctl/serve.conf.example" \
	--socket "$scratch/example.sock" 2>&1)
rc=$?
[ $rc -eq 3 ] && [[ $out == *"open backend /srv/vm1.img: No such file or directory"* ]]
ok $? "serve --config reads the installed serve.conf.example" "exit $rc: $out"

# The bash completion, sourced, completes from the installed binary's tables.
out=$(bash -c '. "$1/usr/share/bash-completion/completions/vhostctl" &&
	COMP_WORDS=("$1/usr/bin/vhostctl" vq at) COMP_CWORD=2 && _vhostctl &&
	echo "${COMPREPLY[*]}" &&
	COMP_WORDS=("$1/usr/bin/vhostctl" vq attach dev 1 "") COMP_CWORD=5 && _vhostctl &&
	echo "${COMPREPLY[*]}"' _ "$root" 2>&1)
[ "$out" = "attach"$'\n'"vq worker" ]
ok $? "the bash completion completes objects, commands and keywords" "$out"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
