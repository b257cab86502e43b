#!/usr/bin/env bash
# Builds and runs the example. Arguments: none (in-process simulator), or URL POLICY.json [ROOT-CA.pem].
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$root/.ci/jdk.sh"
atlas_select_jdk
cd "$root"
./mvnw -B -q -T1 -DskipTests -pl examples/okhttp-chat -am install >/dev/null
./mvnw -B -q -pl examples/okhttp-chat dependency:build-classpath -Dmdep.outputFile=target/example.classpath >/dev/null
exec "$JAVA_HOME/bin/java" -cp "examples/okhttp-chat/target/classes:$(cat examples/okhttp-chat/target/example.classpath)" \
  dev.atlas.examples.ChatOverAtls "$@"
