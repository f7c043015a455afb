#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Module autoloading, inside a test VM with vhost_blk NOT loaded: after
# 'make install-module' (into a scratch root that the kernel's modprobe is
# pointed at), the kernel loads the module by itself when the netlink family
# is resolved and when the device node is opened, and modprobe finds it by
# name.  Prints TAP and a kselftest "Totals" line.
#
#   scripts/vm-run --kernel K -- tests/packaging/autoload_test.sh
#
# AUTOLOAD_ROOT names a scratch root the host installed into already
# ('make install-module DESTDIR=AUTOLOAD_ROOT KVER=K'): kbuild's no-op
# check of the module takes seconds on the host and some 40 s in a TCG
# guest.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
krel=$(uname -r)
root=${AUTOLOAD_ROOT:-}
own_root=
[ -n "$root" ] || { root=$(mktemp -d); own_root=1; }

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
loaded() { grep -q '^vhost_blk ' /proc/modules; }
unload() { ! loaded || rmmod vhost_blk; }

echo "TAP version 13"
echo "1..4"
if loaded; then
	echo "# vhost_blk is loaded already: run this without --load"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:4 error:0"
	exit 4
fi

out="installed in $root by the host"
[ -z "$own_root" ] || out=$(make -s -C "$top" install-module DESTDIR="$root" KVER="$krel" 2>&1)
# The kernel runs this for request_module(): modprobe, on the scratch root.
cat >"$root/modprobe" <<WRAP
#!/bin/sh
exec /sbin/modprobe -d "$root" "\$@"
WRAP
chmod 0755 "$root/modprobe"
old_modprobe=$(cat /proc/sys/kernel/modprobe)
echo "$root/modprobe" >/proc/sys/kernel/modprobe

# 1: modprobe finds the installed module by name.
"$root/modprobe" vhost_blk && loaded
ok $? "modprobe vhost_blk loads the installed module" "$out"
unload

# 2: resolving the netlink family loads it (MODULE_ALIAS_GENL_FAMILY).
out=$(genl ctrl get name vhost_blk 2>&1)
loaded && printf '%s\n' "$out" | grep 'Name: vhost_blk' >/dev/null
ok $? "resolving the vhost_blk netlink family loads the module" "$out"
unload

# 3: opening the device node loads it (char-major-10-243).
# In the guest's own /tmp: a shared root may not hold device nodes.
node=$(mktemp -d)/node
mknod "$node" c 10 243
out=$( { exec 3<>"$node"; } 2>&1)
rc=$?
loaded && [ $rc -eq 0 ]
ok $? "opening a c 10:243 node loads the module" "$out"
unload

# 4: and it unloads cleanly after all of that.
! loaded
ok $? "the module unloads"

echo "$old_modprobe" >/proc/sys/kernel/modprobe
rm -f "$root/modprobe"
rm -rf "${node%/node}"
[ -z "$own_root" ] || rm -rf "$root"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
