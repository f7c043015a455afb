#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/backports-source, which setup-host uses to add
# bookworm-backports: the archive and keyring come from the machine's own
# bookworm source, in either of apt's formats, whatever mirror it names;
# security and other suites are not taken for it; without a bookworm source
# it fails rather than guess an address.  On the host, no root needed.
# Prints TAP and a kselftest "Totals" line.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tool=$top/scripts/lib/backports-source
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

# apt_dir NAME: an empty /etc/apt of its own.
apt_dir() {
	mkdir -p "$scratch/$1/sources.list.d"
	echo "$scratch/$1"
}

echo "TAP version 13"
echo "1..5"

# 1. deb822, a local mirror, security listed first: the mirror of bookworm.
d=$(apt_dir deb822)
cat >"$d/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://mirror.example.internal/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# The main archive, through the site's mirror.
Types: deb deb-src
URIs: http://mirror.example.internal/debian http://second.example.internal/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /etc/apt/keyrings/site.gpg
SRC
out=$("$tool" "$d" 2>&1)
want=$'Types: deb\nURIs: http://mirror.example.internal/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /etc/apt/keyrings/site.gpg'
[ "$out" = "$want" ]
ok $? "deb822: the URI and keyring of the bookworm stanza, not of security" "$out"

# 2. One-line style, with options, in sources.list.
d=$(apt_dir oneline)
cat >"$d/sources.list" <<'SRC'
# deb http://old.example.internal/debian bookworm main
deb http://security.example.internal/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/local.gpg] http://apt-cache.lan:3142/debian bookworm main contrib
SRC
out=$("$tool" "$d" 2>&1)
want=$'Types: deb\nURIs: http://apt-cache.lan:3142/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/local.gpg'
[ "$out" = "$want" ]
ok $? "one-line sources.list: the proxy and keyring of bookworm, comments skipped" "$out"

# 3. A snapshot, in a .list file, without a keyring: none is invented.
d=$(apt_dir snapshot)
echo "deb https://snapshot.example.internal/archive/debian/20250520T000000Z bookworm main" \
	>"$d/sources.list.d/snap.list"
out=$("$tool" "$d" 2>&1)
want=$'Types: deb\nURIs: https://snapshot.example.internal/archive/debian/20250520T000000Z\nSuites: bookworm-backports\nComponents: main'
[ "$out" = "$want" ]
ok $? "a snapshot in sources.list.d/*.list: its URI, no Signed-By made up" "$out"

# 4. Only other suites: nothing to take the archive from.
d=$(apt_dir none)
echo "deb http://mirror.example.internal/debian trixie main" >"$d/sources.list"
out=$("$tool" "$d" 2>&1)
rc=$?
[ $rc -eq 1 ] && [[ $out == *"no bookworm source in $d"* ]]
ok $? "no bookworm source: it fails, naming the directory (exit $rc)" "$out"

# 5. setup-host writes no address of its own.
! grep -nE 'https?://' "$top/scripts/setup-host"
ok $? "scripts/setup-host names no archive address" "$(grep -nE 'https?://' "$top/scripts/setup-host")"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
