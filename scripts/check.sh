#!/bin/sh
# make check: every test crisp has. Unit tests (C), then the integration
# suite (pytest with Debian's python3-grpcio against the real daemons),
# which also builds and checks the SELinux/AppArmor policies and the systemd
# units, and compares our CRI proto with the spec.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
echo "== unit tests"
"$B/tests/unit"
echo "== unit tests under ASan+UBSan"
make -s B=build-asan SANITIZE=1 build-asan/tests/unit >/dev/null
build-asan/tests/unit
echo "== integration tests"
CRISP_BUILD="$PWD/$B" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
