#!/bin/sh
# The output pipes' size A/B (docs/PERFORMANCE.md, "Output pipes of 1 MiB under the keeper"):
# LoadHarness sections 1 and 7 on a fresh daemon with --pipe-size 0 (the kernel's 64 KiB), then
# one with --pipe-size 1m, alternating (the order swapped every pair), PAIRS times.
# usage: benchmarks/scripts/pipe_size_ab.sh [PAIRS] [SECTIONS]   (after mvn -B -q -DskipTests package)
PAIRS=${1:-6}; SECTIONS=${2:-1,7}
i=1
while [ $i -le $PAIRS ]; do
  if [ $((i % 2)) = 1 ]; then order="0 1m"; else order="1m 0"; fi
  for size in $order; do
    echo "== pair $i, --pipe-size $size, $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
    java -cp benchmarks/target/benchmarks.jar dev.papa.benchmarks.e2e.LoadHarness --sections $SECTIONS --daemon-options "--pipe-size $size"
  done
  i=$((i + 1))
done
