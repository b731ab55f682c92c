#!/usr/bin/env bash
# Alternated before/after runs of `bench load` (issue 12): for each round, the build in $BASE, then
# the build in $NEW with the old policies (--index-share 1 --server-warmup 0), with warm-up only
# (--index-share 1), and with both (--index-share 0.25). A build directory holds
# engram-bench-*.jar and lib/ as `mvn -pl engram-bench -am package -DskipTests` leaves them in
# engram-bench/target (copy them out; no `mvn install` needed).
#
#   BASE=/path/base NEW=/path/new engram-bench/scripts/load-ab.sh sustained 3 --batch 100 --rate 150
set -euo pipefail
scenario=$1 rounds=$2
shift 2
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
run() { # $1 build dir, rest: bench args
  local dir=$1
  shift
  timeout 300 "$java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -XX:+UseParallelGC ${JOPTS:-} -cp "$(ls "$dir"/engram-bench-*.jar):$dir/lib/*" \
    dev.engram.bench.Bench load "$@" 2>&1 |
    grep -E "warmed|^(accepted_per_s|ack_p50_ms|ack_p99_ms|cold_ack_p99_ms|visibility_p50_ms|visibility_p99_ms|cold_visibility_p99_ms|index_lag_p99_ms|seconds_to_first_backpressure|lost|visible_at_ack|probes_missed_after_ack) " || true
}
for i in $(seq 1 "$rounds"); do
  for v in base share1-nowarm share1 share025; do
    echo "=== $scenario $v round $i $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    case $v in
      base) run "$BASE" "$scenario" "$@" ;;
      share1-nowarm) run "$NEW" "$scenario" --index-share 1 --server-warmup 0 "$@" ;;
      share1) run "$NEW" "$scenario" --index-share 1 "$@" ;;
      share025) run "$NEW" "$scenario" --index-share 0.25 "$@" ;;
    esac
  done
done
