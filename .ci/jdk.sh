# Sourced by ./atlas and .ci/run: selects a JDK 25+ into JAVA_HOME or explains what is missing.
atlas_select_jdk() {
  local candidates=() c v
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25*)
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] || continue
    v=$("$c/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$c"
      export PATH="$JAVA_HOME/bin:$PATH"
      return 0
    fi
  done
  echo "atlas-java needs JDK 25 or newer." >&2
  echo "Looked at: ${candidates[*]}" >&2
  echo "Install Temurin 25 (e.g. /usr/lib/jvm/temurin-25-jdk-amd64) or set JAVA_HOME to a JDK 25+." >&2
  return 1
}
