#!/usr/bin/env bash
# WebSocket proxy load runs (see docs/benchmarks.md). The proxy runs as its own process (`atlas proxy` from the
# CLI jar); the target and the clients run in the load JVM. Prints one JSON line per run.
#   bench/proxy-load.sh throughput [MIB=512] [ROUNDS=3]  one tunnel, 64 KiB messages, up and down: direct TCP,
#                                                        our proxy, and websockify (apt-get install websockify)
#   bench/proxy-load.sh idle [N=10000]                   N idle tunnels: proxy RSS and heap after GC
# PROXY_JAVA_OPTS passes JVM flags to the proxy process (e.g. -Xmx256m).
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
./mvnw -B -q -T1 -DskipTests -pl atlas-cli,atlas-bench -am package >/dev/null
exec "$JAVA_HOME/bin/java" -Xmx1g -Datlas.cli.jar=atlas-cli/target/atlas-cli.jar \
  -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.ProxyLoad "$@"
