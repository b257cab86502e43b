#!/usr/bin/env bash
# WebSocket proxy load runs (see docs/benchmarks.md). The proxy runs as its own process (`atlas proxy` from the
# CLI jar); the target and the clients run in the load JVM. Prints one JSON line per run.
#   bench/proxy-load.sh throughput [MIB=512] [ROUNDS=3]  one tunnel, 64 KiB messages, up and down: direct TCP,
#                                                        our proxy, and websockify (apt-get install websockify)
#   bench/proxy-load.sh idle [N=10000]                   N idle tunnels: proxy RSS and heap after GC
# PROXY_JAVA_OPTS passes JVM flags to the proxy process (e.g. -Xmx256m).
# BASELINE_REV=<git revision> (throughput only) also builds the CLI at that revision, from `git archive` into a
# temporary directory, and measures it in the same run ("baseline_*" fields). BASELINE_CLI_JAR=<jar> uses a jar
# built before instead. BASELINE_JAVA_OPTS sets the baseline proxy's JVM flags (default: PROXY_JAVA_OPTS), so
# one jar with two settings (-D flags) can be compared in one run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if [ "${1:-}" = idle ] && [ "$(ulimit -n)" -lt $(( 2 * ${2:-10000} + 200 )) ]; then
  echo "note: open-file limit $(ulimit -n) is below the $(( 2 * ${2:-10000} + 200 )) descriptors the proxy needs" \
       "for ${2:-10000} tunnels (2 per tunnel); the run will fail part way" >&2
fi
if [ -n "${BASELINE_REV:-}" ]; then
  base="$(mktemp -d)"
  trap 'rm -rf "$base"' EXIT
  echo "building the baseline CLI at $BASELINE_REV in $base ..." >&2
  git -C "$root" archive "$BASELINE_REV" | tar -x -C "$base" || {
    echo "bench/proxy-load.sh: cannot export BASELINE_REV=$BASELINE_REV from $root (is it a commit?)" >&2; exit 2; }
  (cd "$base" && ./mvnw -B -q -T1 -DskipTests -DskipFuzz=true -Djacoco.skip=true -pl atlas-cli -am package >/dev/null) || {
    echo "bench/proxy-load.sh: the baseline at $BASELINE_REV does not build (run ./mvnw package in $base)" >&2; exit 2; }
  export BASELINE_CLI_JAR="$base/atlas-cli/target/atlas-cli.jar"
fi
./mvnw -B -q -T1 -DskipTests -DskipFuzz=true -Djacoco.skip=true -pl atlas-cli,atlas-bench -am package >/dev/null
"$JAVA_HOME/bin/java" -Xmx1g -Datlas.cli.jar=atlas-cli/target/atlas-cli.jar \
  -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.ProxyLoad "$@"
