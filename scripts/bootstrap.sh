#!/bin/sh
# Bring a fresh, minimal Debian 12 to where `make setup` can run: only make
# is needed for that; `make setup` installs everything else.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "bootstrap: run as root" >&2; exit 1; }
if ! command -v make >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends make >/dev/null
fi
cd "$(dirname "$0")/.."
make setup
