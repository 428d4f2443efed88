#!/bin/sh
# make check: every test crisp has. Unit tests (C), then the integration
# suite (pytest with Debian's python3-grpcio against the real daemons),
# which also builds and checks the SELinux/AppArmor policies and the systemd
# units, and compares our CRI proto with the spec. Then both again with the
# whole suite built with ASan+UBSan (build-asan/): a sanitizer report in a
# daemon's log fails the integration test that saw it.
#
# Every stage runs, whatever the one before it did, so that one failure does
# not hide how the others fare; each is timed, a table of them closes the
# run, and the exit status is 1 if any stage failed. (The ASan test stages
# need the ASan build: without it they are reported as not run.)
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}

summary=""      # one line per stage: name|result|seconds
failed=0
stage_rc=0      # the exit status of the last stage

# stage NAME COMMAND...: run COMMAND as the stage NAME, time it, record it.
stage() {
	name=$1
	shift
	echo "== $name"
	t0=$(date +%s)
	if "$@"; then
		stage_rc=0
		result=ok
	else
		stage_rc=$?
		result="FAILED (exit $stage_rc)"
		failed=$((failed + 1))
	fi
	secs=$(($(date +%s) - t0))
	echo "== $name: $result, ${secs}s"
	summary="$summary$name|$result|$secs
"
}

# not_run NAME WHY: record a stage that could not run.
not_run() {
	echo "== $1: not run ($2)"
	summary="$summary$1|not run ($2)|-
"
}

asan_build() {
	make -s -j2 B=build-asan SANITIZE=1 >/dev/null
}

# integration BUILD_DIR: the pytest suite against the daemons in BUILD_DIR
# (-rfEs: the reasons for skips too, e.g. no CRI spec to compare with)
integration() {
	CRISP_BUILD="$PWD/$1" /usr/bin/python3 -m pytest -q -p no:cacheprovider -rfEs \
		tests/integration
}

stage "unit tests" "$B/tests/unit"
stage "integration tests" integration "$B"
stage "ASan+UBSan build" asan_build
if [ "$stage_rc" -eq 0 ]; then
	stage "unit tests, ASan+UBSan" build-asan/tests/unit
	stage "integration tests, ASan+UBSan" integration build-asan
else
	not_run "unit tests, ASan+UBSan" "no ASan build"
	not_run "integration tests, ASan+UBSan" "no ASan build"
fi

echo
echo "== make check: summary"
printf '%-32s %-24s %7s\n' stage result seconds
printf '%s' "$summary" | while IFS='|' read -r name result secs; do
	printf '%-32s %-24s %7s\n' "$name" "$result" "$secs"
done
if [ "$failed" -ne 0 ]; then
	echo "make check: $failed stage(s) failed"
	exit 1
fi
echo "make check: every stage passed"
