#!/usr/bin/env bash
# Verifies the real Intel TDX sample with atlas-java (JMH, warm and cold) and with @phala/dcap-qvl@0.3.9
# (pure JS, in-process) in the same run, then prints both medians and the ratio.
# Needs ../shared/testdata beside the repository, Node.js + npm, and the npm registry for the first run.
# Usage: bench/compare-dcap-js.sh [JS_RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
samples="$root/../shared/testdata/dcap"
[ -f "$samples/tdx_quote" ] || { echo "missing $samples/tdx_quote (../shared/testdata)" >&2; exit 2; }
command -v node >/dev/null || { echo "Node.js is required for the JS side" >&2; exit 2; }
runs="${1:-300}"

js_dir="$root/bench/node"
if [ ! -d "$js_dir/node_modules/@phala/dcap-qvl" ]; then
  mkdir -p "$js_dir"
  (cd "$js_dir" && [ -f package.json ] || echo '{"name":"atlas-bench-js","private":true}' > package.json
   npm install --silent --no-audit --no-fund @phala/dcap-qvl@0.3.9 >/dev/null 2>&1)
fi
cp "$root/bench/dcap-js-bench.js" "$js_dir/"

jar="$root/atlas-bench/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root/atlas-tdx/src/main" "$root/atlas-bench/src" -newer "$jar" -print -quit)" ]; then
  (cd "$root" && ./mvnw -B -q -T1 -DskipTests -pl atlas-testing,atlas-tdx,atlas-bench package >&2)
fi

echo "JS: @phala/dcap-qvl@0.3.9, $runs runs after 50 warm-up" >&2
js=$(cd "$js_dir" && node dcap-js-bench.js "$samples/tdx_quote" "$samples/tdx_quote_collateral.json" 1752919234 "$runs")
echo "Java: JMH VerifyBenchmark (1 fork, 3x3s warm-up, 5x3s measurement)" >&2
out=$(mktemp)
(cd "$root" && java --sun-misc-unsafe-memory-access=allow -jar "$jar" VerifyBenchmark -f 1 -wi 3 -w 3s -i 5 -r 3s -rf json -rff "$out" >/dev/null)
python3 - "$out" "$js" <<'PY'
import json, sys
jmh = json.load(open(sys.argv[1])); js = json.loads(sys.argv[2])
med = {r["benchmark"].rsplit(".", 1)[1]: r["primaryMetric"]["scorePercentiles"]["50.0"] for r in jmh}
p90 = {r["benchmark"].rsplit(".", 1)[1]: r["primaryMetric"]["scorePercentiles"]["90.0"] for r in jmh}
print(json.dumps({
  "sample": "tdx_quote @ 1752919234", "js_status": js["status"],
  "js_median_us": round(js["median_us"], 1), "js_p90_us": round(js["p90_us"], 1),
  "java_warm_median_us": round(med["warm"], 1), "java_warm_p90_us": round(p90["warm"], 1),
  "java_cold_median_us": round(med["cold"], 1), "java_cold_p90_us": round(p90["cold"], 1),
  "ratio_js_over_java_warm": round(js["median_us"] / med["warm"], 1),
  "ratio_js_over_java_cold": round(js["median_us"] / med["cold"], 1)}, indent=1))
PY
rm -f "$out"
