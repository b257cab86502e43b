# Sourced by ./atlas, .ci/run, bench/*.sh and examples: the one JDK selection lives in .mvn/jdk.sh (POSIX sh,
# also sourced by ./mvnw).
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.mvn/jdk.sh"
