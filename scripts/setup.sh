#!/bin/sh
# make setup: install the Debian packages crisp needs (deps/debian-packages.txt)
# and create the system user its unprivileged daemons run as. Idempotent; as root.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "setup: run as root" >&2; exit 1; }
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' deps/debian-packages.txt)
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# one update, then install by name; retry the update once if lists are stale
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; }
fi
user=crisp
if ! getent passwd "$user" >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --user-group "$user"
	echo "setup: created system user $user"
fi
echo "setup: ok"
