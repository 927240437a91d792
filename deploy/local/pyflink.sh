#!/usr/bin/env bash
# Set up the PyFlink planner check used by the engine tests (deploy/local/flink_explain.py).
#
# PyFlink gets a virtualenv of its own because it pins pandas, pyarrow, numpy and apache-beam
# to versions Headwater's own environment must not inherit. Connector jars come from Maven into
# a cache under the home folder. A stamp records what was set up; a second run with the same
# versions finds the stamp and touches neither PyPI nor Maven.
#
# Layout under ${HEADWATER_CACHE:-$HOME/.cache/headwater}/pyflink:
#   venv/           python with apache-flink
#   jars/*.jar      connectors, loaded through Flink's `pipeline.jars`
#   jars/hadoop/    Hadoop client jars; Iceberg and Parquet need them on the JVM's system
#                   classpath (HADOOP_CLASSPATH), where `pipeline.jars` does not reach
#   ready           the stamp
set -euo pipefail

PYFLINK_VERSION=2.0.2
CACHE="${HEADWATER_CACHE:-$HOME/.cache/headwater}/pyflink"
VENV="$CACHE/venv"
JARS="$CACHE/jars"
STAMP="$CACHE/ready"
PYTHON="${HEADWATER_PYFLINK_PYTHON:-python3.11}"

# Connectors for Flink 2.0, each version checked to plan with PyFlink 2.0.2 on Java 17.
CONNECTOR_JARS=(
    org.apache.flink:flink-sql-connector-kafka:4.0.1-2.0
    org.apache.flink:flink-connector-jdbc-core:4.0.0-2.0
    org.apache.flink:flink-connector-jdbc-postgres:4.0.0-2.0
    org.postgresql:postgresql:42.7.8
    org.apache.iceberg:iceberg-flink-runtime-2.0:1.11.0
    # The Parquet format as Flink 2.0's own flink-sql-parquet bundles it (parquet 1.14.4);
    # that fat jar is not served for 2.0, and the 2.3.0 one is built for another Flink.
    org.apache.flink:flink-parquet:2.0.0
    org.apache.parquet:parquet-hadoop:1.14.4
    org.apache.parquet:parquet-column:1.14.4
    org.apache.parquet:parquet-common:1.14.4
    org.apache.parquet:parquet-encoding:1.14.4
    org.apache.parquet:parquet-format-structures:1.14.4
    org.apache.parquet:parquet-jackson:1.14.4
)
HADOOP_JARS=(
    org.apache.hadoop:hadoop-client-api:3.3.6
    org.apache.hadoop:hadoop-client-runtime:3.3.6
    # hadoop-client-runtime logs through commons-logging but does not bundle it.
    commons-logging:commons-logging:1.2
)

# What `pip install apache-flink==2.0.2` resolved to when this set-up was verified; pinned so
# that every machine plans with the same libraries.
CONSTRAINTS="apache-beam==2.61.0
apache-flink==$PYFLINK_VERSION
apache-flink-libraries==$PYFLINK_VERSION
avro==1.12.2
cloudpickle==2.2.1
fastavro==1.13.1
grpcio==1.65.5
numpy==2.1.3
pandas==2.2.3
pemja==0.5.7
protobuf==5.29.6
py4j==0.10.9.7
pyarrow==16.1.0
setuptools==81.0.0"

fail() {
    echo "pyflink.sh: $*" >&2
    exit 1
}

fingerprint() {
    printf 'apache-flink %s\n%s\n' "$PYFLINK_VERSION" "$CONSTRAINTS"
    printf 'jar %s\n' "${CONNECTOR_JARS[@]}"
    printf 'hadoop %s\n' "${HADOOP_JARS[@]}"
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" ]]; then
    echo "pyflink: ready in $CACHE"
    exit 0
fi

command -v "$PYTHON" >/dev/null \
    || fail "$PYTHON not found; PyFlink $PYFLINK_VERSION needs Python 3.8-3.11 (set HEADWATER_PYFLINK_PYTHON)"
"$PYTHON" -c 'import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 11))' \
    || fail "$PYTHON is $("$PYTHON" -V 2>&1); PyFlink $PYFLINK_VERSION ships wheels for Python 3.8-3.11 only"
command -v java >/dev/null || fail "java not found; Flink 2.0 needs a JDK 11 or newer (17 recommended)"
java_major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
[[ "${java_major:-0}" =~ ^[0-9]+$ && "$java_major" -ge 11 ]] \
    || fail "java is version '${java_major:-unknown}'; Flink 2.0 needs 11 or newer (17 recommended)"
command -v mvn >/dev/null || fail "mvn not found; it fetches the connector jars (apt-get install maven)"

# A changed version list starts from scratch, so no stale jar or package is left behind.
rm -rf "$VENV" "$JARS" "$STAMP"
mkdir -p "$CACHE" "$JARS/hadoop"

echo "pyflink: creating $VENV with apache-flink==$PYFLINK_VERSION (a few minutes the first time)"
"$PYTHON" -m venv "$VENV"
printf '%s\n' "$CONSTRAINTS" >"$CACHE/constraints.txt"
# PIP_CONSTRAINT also reaches the isolated build of apache-flink-libraries, which is an sdist.
PIP_CONSTRAINT="$CACHE/constraints.txt" "$VENV/bin/python" -m pip install \
    --quiet --no-input --disable-pip-version-check "apache-flink==$PYFLINK_VERSION" \
    || fail "pip could not install apache-flink==$PYFLINK_VERSION into $VENV"

fetch() {
    local artifact="$1" target="$2"
    echo "pyflink: fetching $artifact"
    mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$target" >"$CACHE/mvn.log" 2>&1 \
        || { cat "$CACHE/mvn.log" >&2; fail "maven could not fetch $artifact"; }
}
for artifact in "${CONNECTOR_JARS[@]}"; do fetch "$artifact" "$JARS"; done
for artifact in "${HADOOP_JARS[@]}"; do fetch "$artifact" "$JARS/hadoop"; done
rm -f "$CACHE/mvn.log"

expected=$((${#CONNECTOR_JARS[@]} + ${#HADOOP_JARS[@]}))
found=$(find "$JARS" -name '*.jar' -size +0 | wc -l)
[[ "$found" -eq "$expected" ]] || fail "expected $expected jars in $JARS, found $found"
"$VENV/bin/python" -c 'import pyflink.table' || fail "pyflink does not import in $VENV"

fingerprint >"$STAMP"
echo "pyflink: ready in $CACHE"
