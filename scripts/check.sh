#!/bin/sh
# make check: every test crisp has. Unit tests (C), then the integration
# suite (pytest with Debian's python3-grpcio against the real daemons),
# which also builds and checks the SELinux/AppArmor policies and the systemd
# units, and compares our CRI proto with the spec. Then both again with the
# whole suite built with ASan+UBSan (build-asan/): a sanitizer report in a
# daemon's log fails the integration test that saw it.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
echo "== unit tests"
"$B/tests/unit"
echo "== integration tests"
CRISP_BUILD="$PWD/$B" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
echo "== build with ASan+UBSan (make SANITIZE=1 B=build-asan)"
make -s -j2 B=build-asan SANITIZE=1 >/dev/null
echo "== unit tests under ASan+UBSan"
build-asan/tests/unit
echo "== integration tests under ASan+UBSan"
CRISP_BUILD="$PWD/build-asan" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
