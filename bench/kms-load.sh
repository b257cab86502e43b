#!/usr/bin/env bash
# KMS.GetAppKey end to end on loopback: a KMS in a simulated CVM, bootstrapped over HTTP, dstack's auth server as
# the webhook, an allowlisted app calling over fresh mTLS connections (warm collateral cache). Prints one JSON line:
# median/p99/releases per second at 1, 8 and 64 concurrent callers, and where the time of one release goes.
# Usage: bench/kms-load.sh [N1=300] [N8=800] [N64=1280]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
./mvnw -B -q -T1 -DskipTests -pl atlas-bench -am package >/dev/null
exec "$JAVA_HOME/bin/java" -Xmx512m -cp atlas-bench/target/benchmarks.jar dev.atlas.bench.KmsLoad "$@"
