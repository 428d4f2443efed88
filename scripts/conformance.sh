#!/bin/sh
# make conformance KIT=../shared/conformance [FOCUS=regex]: run the
# Kubernetes CRI validation suite (critest, from cri-tools, in the kit KIT)
# against a crisp suite of its own.
#
# What it does: fills the kit's local registry (KIT/setup-registry.sh:
# Debian's docker-registry on 127.0.0.1:5000 with critest's images), starts
# build/crisp-up in a temporary directory with registry.k8s.io, gcr.io and
# k8s.gcr.io mirrored to that registry (critest hard-codes those names) and
# crisp's default CNI network on a bridge of its own, runs
# KIT/run-critest.sh against it (extra arguments go to critest, e.g.
# --ginkgo.focus=REGEX), then stops the suite, removes what critest left,
# the bridge and the directory. The kit's summary (and its last line,
# "critest: N passed, N failed, N skipped") is printed; the full results
# are under $OUT (default /tmp/critest-results/...).
# Needs: root, a built tree (make), the kit. Exit status: critest's summary
# had no failure (0) or some (1); 2 for usage or setup errors.
set -u
cd "$(dirname "$0")/.."
KIT=${KIT:-${1:-}}
[ -n "$KIT" ] && [ -x "$KIT/run-critest.sh" ] || {
	echo "usage: KIT=path/to/conformance $0 [critest args]  (or make conformance KIT=...)" >&2
	exit 2
}
[ $# -gt 0 ] && [ "$1" = "$KIT" ] && shift
KIT=$(cd "$KIT" && pwd)
B=${B:-build}
[ -x "$B/crisp-up" ] || { echo "conformance: build first (make)" >&2; exit 2; }
"$KIT/setup-registry.sh" >/dev/null || { echo "conformance: the kit's registry failed" >&2; exit 2; }

T=$(mktemp -d /tmp/crisp-cf-XXXXXX)
chmod 0755 "$T"
BR=crcf$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$T/cni"
cat > "$T/crisp.conf" <<EOF
[network]
cni_conf_dir = $T/cni
default_bridge = $BR
default_subnet = 10.244.$(( $(od -An -N1 -tu1 /dev/urandom) % 200 + 20 )).0/24

[registry.registry.k8s.io]
mirrors = http://127.0.0.1:5000
[registry.gcr.io]
mirrors = http://127.0.0.1:5000
[registry.k8s.gcr.io]
mirrors = http://127.0.0.1:5000
EOF
"$B/crisp-up" --config "$T/crisp.conf" --root "$T/root" --runroot "$T/run" \
	--listen "$T/crisp.sock" >"$T/crisp.log" 2>&1 &
UP=$!
cleanup() {
	kill -TERM "$UP" 2>/dev/null
	wait "$UP" 2>/dev/null
	# the containers outlive the daemons by design: remove what is left
	for id in $(ls "$T/run/runtime/runc" 2>/dev/null); do
		runc --root "$T/run/runtime/runc" delete --force "$id" >/dev/null 2>&1
	done
	grep " $T/" /proc/self/mountinfo | awk '{print $5}' | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	ip link del "$BR" 2>/dev/null
	cp "$T/crisp.log" "${OUT:-/tmp}/crisp-conformance.log" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
for _ in $(seq 100); do [ -S "$T/crisp.sock" ] && break; sleep 0.1; done
[ -S "$T/crisp.sock" ] || { echo "conformance: crisp did not start:" >&2; cat "$T/crisp.log" >&2; exit 2; }
sleep 1
"$KIT/run-critest.sh" "$T/crisp.sock" "$@" | tee "$T/out"
tail -1 "$T/out" | grep -q ", 0 failed," && exit 0
exit 1
