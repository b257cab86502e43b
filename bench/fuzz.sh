#!/usr/bin/env bash
# Long fuzzing run of Jazzer targets, outside the normal build (which fuzzes each target for fuzz.seconds).
#   bench/fuzz.sh TARGET_CLASS [SECONDS]   one target, e.g. QuoteParserFuzzTest, AuthParsersFuzzTest
#   bench/fuzz.sh all [SECONDS]            every *FuzzTest of every module, one after the other
#   bench/fuzz.sh list                     the targets and their modules
# New inputs go to MODULE/.cifuzz-corpus/<class>/long (git-ignored); findings (crash-*) to the current folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
targets() { find . -path ./.git -prune -o -path '*/target' -prune -o -path '*/src/test/java/*' -name '*FuzzTest.java' -print | sed 's|^\./||' | sort; }
what="${1:?usage: bench/fuzz.sh TARGET_CLASS|all|list [SECONDS]}"
secs="${2:-600}"
if [ "$what" = list ]; then
  targets | while read -r src; do c="${src#*/src/test/java/}"; c="${c%.java}"; echo "${src%%/src/test/java/*}  ${c//\//.}"; done
  exit 0
fi
run_one() {
  local src="$1" module pkgpath pkg target cp corpus seeds
  module="${src%%/src/test/java/*}"
  target="$(basename "$src" .java)"
  pkgpath="$(dirname "${src#"$module"/src/test/java/}")"
  pkg="${pkgpath//\//.}"
  ./mvnw -B -q -T1 -DskipTests -pl "$module" -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test >&2
  cp="$module/target/test-classes:$module/target/classes:$(cat "$module/target/fuzz-classpath.txt")"
  corpus="$module/.cifuzz-corpus/$pkg.$target/long"
  mkdir -p "$corpus"
  seeds="$module/src/test/resources/$pkgpath/${target}Inputs/parse"
  echo "fuzz.sh: $pkg.$target ($module) for ${secs}s" >&2
  java -XX:+EnableDynamicAgentLoading --enable-native-access=ALL-UNNAMED -cp "$cp" \
    com.code_intelligence.jazzer.Jazzer --target_class="$pkg.$target" --target_method=parse \
    --instrumentation_includes='dev.atlas.**' "-max_total_time=$secs" "$corpus" "$seeds"
}
if [ "$what" = all ]; then
  targets | while read -r src; do run_one "$src"; done
  exit 0
fi
src="$(targets | grep "/$what.java\$" | head -1 || true)"
[ -n "$src" ] || { echo "fuzz.sh: no fuzz target $what; the targets are:" >&2; targets | sed 's|.*/||; s|\.java$||' >&2; exit 2; }
run_one "$src"
