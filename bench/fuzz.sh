#!/usr/bin/env bash
# Long fuzzing run of one Jazzer target: bench/fuzz.sh TARGET_CLASS [SECONDS]
# TARGET_CLASS is a *FuzzTest class of atlas-tdx or atlas-dstack, e.g. QuoteParserFuzzTest, EventLogFuzzTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
target="${1:?target class, e.g. QuoteParserFuzzTest or EventLogFuzzTest}"
secs="${2:-600}"
cd "$root"
src="$(find atlas-*/src/test/java -name "$target.java" | head -1)"
[ -n "$src" ] || { echo "no fuzz target $target" >&2; exit 2; }
module="${src%%/*}"
pkgpath="$(dirname "${src#"$module"/src/test/java/}")"
pkg="${pkgpath//\//.}"
./mvnw -B -q -T1 -DskipTests -pl "$module" -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test >&2
cp="$module/target/test-classes:$module/target/classes:$(cat "$module/target/fuzz-classpath.txt")"
corpus="$module/.cifuzz-corpus/$pkg.$target/long"
mkdir -p "$corpus"
seeds="$module/src/test/resources/$pkgpath/${target}Inputs/parse"
exec java -XX:+EnableDynamicAgentLoading --enable-native-access=ALL-UNNAMED -cp "$cp" \
  com.code_intelligence.jazzer.Jazzer --target_class="$pkg.$target" \
  --instrumentation_includes='dev.atlas.**' "-max_total_time=$secs" "$corpus" "$seeds"
