#!/usr/bin/env bash
# Fetch the jars Spark loads for Headwater's Iceberg catalog: the Iceberg Spark runtime, the AWS
# bundle (S3FileIO) and the PostgreSQL JDBC driver.
#
# The list lives in one place, runner/config.py (SPARK_JARS), next to the pyspark version it
# matches. The jars go to ${HEADWATER_CACHE:-~/.cache/headwater}/jars (Maven keeps its own copy
# under ~/.m2); a jar already there is not fetched again, and nothing is written into the work
# tree. Spark itself comes with pyspark in .venv.
set -euo pipefail
NAME=spark
# shellcheck source=deploy/local/common.sh
source "$(dirname "$0")/common.sh"

JARS="$CACHE/jars"
PYTHON="${HEADWATER_PYTHON:-$ROOT/.venv/bin/python}"

[[ -x "$PYTHON" ]] || fail "no Python at $PYTHON: run \`make install\` first"
require java "Spark 4.1 needs a JDK 17 or 21 (apt-get install openjdk-17-jdk-headless)"
java_major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
[[ "${java_major:-0}" =~ ^[0-9]+$ && "$java_major" -ge 17 ]] \
    || fail "java is version '${java_major:-unknown}'; Spark 4.1 needs 17 or newer"

listing="$("$PYTHON" - <<'EOF'
import pyspark

from runner.config import SPARK_JARS, SPARK_LINE

if not pyspark.__version__.startswith(SPARK_LINE + "."):
    raise SystemExit(
        f"pyspark {pyspark.__version__} does not match the Spark {SPARK_LINE} jars: run `make install`"
    )
for jar in SPARK_JARS:
    print(jar.coordinate, jar.file_name)
EOF
)" || fail "cannot read the jar list from runner/config.py"

lock "$JARS/.fetch.lock"
while read -r coordinate file_name; do
    if [[ ! -s "$JARS/$file_name" ]]; then
        mvn_fetch "$coordinate" "$JARS"
        [[ -s "$JARS/$file_name" ]] || fail "maven fetched $coordinate but $JARS/$file_name is missing"
    fi
done <<<"$listing"
echo "spark: jars ready in $JARS"
