#!/bin/sh
# bench.sh: `make bench`: every benchmark script, one after the other, each
# with its documented default arguments; their Markdown tables on stdout
# (docs/PERFORMANCE.md says what each measures and records the figures).
# Measurements, never tests: run on a quiet machine, as root.
#   scripts/bench.py        the CRI front door: start, unary calls, memory
#   scripts/bench_pull.py   PullImage, cold, through the CRI
#   scripts/bench_pods.py   pod lifecycles, parallel starts, memory per pod,
#                           beside containerd 1.6 + runc and the floor (needs
#                           `apt-get install -y containerd` and a registry on
#                           127.0.0.1:5000 with pause:3.6; it says so and stops
#                           when either is missing)
set -eu
cd "$(dirname "$0")/.."
for b in bench.py bench_pull.py bench_pods.py; do
	echo "## scripts/$b"
	echo
	/usr/bin/python3 "scripts/$b"
	echo
done
