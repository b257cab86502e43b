#!/usr/bin/env bash
# Load run of the aTLS endpoint on loopback (simulated quote provider): fresh TLS 1.3 connection + EKM +
# POST /tdx_quote per attestation. Prints one JSON line (provider cost, sequential latency, throughput with
# concurrent clients, heap). Usage: bench/server-load.sh [SEQUENTIAL=300] [CLIENTS=50] [PER_CLIENT=10]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
./mvnw -B -q -T1 -DskipTests -pl atlas-bench -am package >/dev/null
exec "$JAVA_HOME/bin/java" -Xmx512m -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.ServerLoad "$@"
