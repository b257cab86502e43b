#!/usr/bin/env bash
# Long fuzzing run of one atlas-tdx Jazzer target: bench/fuzz.sh TARGET_CLASS [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
target="${1:?target class, e.g. QuoteParserFuzzTest}"
secs="${2:-600}"
cd "$root"
./mvnw -B -q -T1 -DskipTests -pl atlas-testing,atlas-tdx test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test >&2
cp="atlas-tdx/target/test-classes:atlas-tdx/target/classes:$(cat atlas-tdx/target/fuzz-classpath.txt)"
corpus="atlas-tdx/.cifuzz-corpus/dev.atlas.tdx.$target/long"
mkdir -p "$corpus"
seeds="atlas-tdx/src/test/resources/dev/atlas/tdx/${target}Inputs/parse"
exec java -XX:+EnableDynamicAgentLoading --enable-native-access=ALL-UNNAMED -cp "$cp" \
  com.code_intelligence.jazzer.Jazzer --target_class="dev.atlas.tdx.$target" \
  --instrumentation_includes='dev.atlas.**' "-max_total_time=$secs" "$corpus" "$seeds"
