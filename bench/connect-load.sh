#!/usr/bin/env bash
# Attested connect (AtlsConnector, warm collateral cache) vs plain TLS 1.3 connect to the same loopback aTLS
# server (simulated quote provider). Prints one JSON line: medians, p90s, ratio, attested connects per second.
# Usage: bench/connect-load.sh [N=300] [CLIENTS=8] [PER_CLIENT=50]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
./mvnw -B -q -T1 -DskipTests -pl atlas-bench -am package >/dev/null
exec "$JAVA_HOME/bin/java" -Xmx512m -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.ConnectLoad "$@"
