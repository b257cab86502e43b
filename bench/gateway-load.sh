#!/usr/bin/env bash
# The dstack gateway on loopback (GatewayServer in a child JVM, the guide's dev settings + insecure loopback
# transport, one app instance registered through Debug.RegisterCvm): bulk throughput of one connection and new
# connections per second, passthrough and terminate, each as a ratio to a direct connection in the same run, and the
# gateway's RSS with 10,000 idle proxied connections. Prints one JSON line.
# Usage: bench/gateway-load.sh [bulkMiB=256] [connections=4000] [idle=10000] [threads=4]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
# 10,000 idle connections: 10k client + 10k backend sockets here, 20k in the gateway child
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
./mvnw -B -q -T1 -DskipTests -pl atlas-bench -am package >/dev/null
exec "$JAVA_HOME/bin/java" -Xmx512m -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.GatewayLoad "$@"
