# Selects a JDK 25+ into JAVA_HOME, or explains what is missing and returns 1.
# POSIX sh: sourced by ./mvnw (a /bin/sh script) and, through .ci/jdk.sh, by ./atlas, .ci/run and bench/*.sh,
# so the README's two commands pick the same JDK and fail with the same message.
#
# Order: $JAVA_HOME if it is 25+, then the usual install locations (Temurin 25 first), then the `java` on
# PATH. A JAVA_HOME that is older is not used, and a note on stderr says which JDK was taken instead.
# Reading $JDK/release is enough to know the version (no JVM start); a JDK without that file is asked.
# On JDK 24+ Maven's own libraries (Guice, Guava) call sun.misc.Unsafe, which prints warnings: the flag
# that allows it goes into MAVEN_OPTS here, not into .mvn/jvm.config, because an older JVM refuses the flag
# and would die before Maven could say that it needs JDK 25 (the enforcer rule in pom.xml says that).

atlas_jdk_feature() {
  # prints the feature version (17, 25, ...) of the JDK at $1, or nothing
  _atlas_v=""
  if [ -r "$1/release" ]; then
    _atlas_v=$(sed -n 's/^JAVA_VERSION="\{0,1\}\([0-9][0-9]*\).*/\1/p' "$1/release" | head -n 1)
  fi
  if [ -z "$_atlas_v" ] && [ -x "$1/bin/java" ]; then
    _atlas_v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1)
  fi
  printf '%s' "$_atlas_v"
}

atlas_select_jdk() {
  _atlas_noglob=0
  case $- in *f*) _atlas_noglob=1; set +f ;; esac
  _atlas_looked=""
  _atlas_found=""
  _atlas_seen=""
  _atlas_path_java=$(command -v java 2>/dev/null || true)
  _atlas_path_home=""
  if [ -n "$_atlas_path_java" ]; then
    _atlas_path_home=$(readlink -f "$_atlas_path_java" 2>/dev/null || printf '%s' "$_atlas_path_java")
    _atlas_path_home=${_atlas_path_home%/bin/java}
  fi
  for _atlas_c in "${JAVA_HOME:-}" \
      /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 /usr/lib/jvm/temurin-25* \
      /usr/lib/jvm/java-25-openjdk* /usr/lib/jvm/jdk-25* \
      /usr/lib/jvm/temurin-2[6-9]* /usr/lib/jvm/java-2[6-9]-openjdk* /usr/lib/jvm/jdk-2[6-9]* \
      /Library/Java/JavaVirtualMachines/*/Contents/Home "${HOME:-/nonexistent}"/.sdkman/candidates/java/2[5-9]* \
      "$_atlas_path_home"; do
    [ -n "$_atlas_c" ] || continue
    [ -x "$_atlas_c/bin/java" ] || continue
    case "$_atlas_seen" in *"|$_atlas_c|"*) continue ;; esac
    _atlas_seen="$_atlas_seen|$_atlas_c|"
    _atlas_fv=$(atlas_jdk_feature "$_atlas_c")
    _atlas_looked="${_atlas_looked:+$_atlas_looked, }$_atlas_c (JDK ${_atlas_fv:-of unknown version})"
    if [ -n "$_atlas_fv" ] && [ "$_atlas_fv" -ge 25 ] 2>/dev/null; then
      _atlas_found="$_atlas_c"
      break
    fi
  done
  [ "$_atlas_noglob" = 1 ] && set -f
  if [ -z "$_atlas_found" ]; then
    echo "atlas-java needs JDK 25 or newer." >&2
    echo "Looked at: ${_atlas_looked:-no JDK at all (JAVA_HOME unset, no java on PATH, nothing under /usr/lib/jvm)}" >&2
    echo "Install Temurin 25 (e.g. /usr/lib/jvm/temurin-25-jdk-amd64) or set JAVA_HOME to a JDK 25+." >&2
    return 1
  fi
  if [ -n "${JAVA_HOME:-}" ] && [ "$JAVA_HOME" != "$_atlas_found" ]; then
    echo "note: JAVA_HOME=$JAVA_HOME is not JDK 25+; using $_atlas_found" >&2
  fi
  JAVA_HOME="$_atlas_found"
  PATH="$JAVA_HOME/bin:$PATH"
  case " ${MAVEN_OPTS:-} " in
    *" --sun-misc-unsafe-memory-access="*) ;;
    *) MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" ;;
  esac
  export JAVA_HOME PATH MAVEN_OPTS
  return 0
}
