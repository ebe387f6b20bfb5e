# Java for the Spark engine tests (PySpark local mode needs a JRE, 17 or later).
# Sourced by .ci/run as root; quick when Java is already there.
if ! command -v java >/dev/null 2>&1; then
  echo "installing openjdk-17-jre-headless"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi
if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  export JAVA_HOME
fi
echo "java: $(java -version 2>&1 | head -1) (JAVA_HOME=$JAVA_HOME)"
