#!/usr/bin/env bash
# The local Trino of `make up` and `make test`: start | stop | status | url.
#
# One node, coordinator and worker at once, on loopback, with a single catalog `iceberg` that
# reads and writes Headwater's Iceberg tables through the same JDBC catalog Spark uses (in the
# local PostgreSQL). The server is Trino's core tarball plus its Iceberg plugin, both from Maven,
# unpacked once into ${HEADWATER_CACHE:-~/.cache/headwater}/trino-<version>; the core's other
# plugins are left out, which shortens start-up. Configuration, data and logs live under
# var/trino and are rewritten at every start; a start that finds the server running with other
# settings restarts it.
#
# Settings (environment): HEADWATER_TRINO_PORT (8085), HEADWATER_TRINO_HEAP (2G),
# HEADWATER_TRINO_JAVA_HOME (Temurin 25: Trino needs Java 24 or newer), HEADWATER_PG_PORT
# (54329), HEADWATER_PG_USER (headwater), HEADWATER_CATALOG_DATABASE (headwater_catalog),
# HEADWATER_WAREHOUSE (file://<var>/warehouse), HEADWATER_S3_ENDPOINT
# (http://127.0.0.1:$HEADWATER_S3_PORT), HEADWATER_S3_PORT (8333), HEADWATER_S3_ACCESS_KEY,
# HEADWATER_S3_SECRET_KEY, HEADWATER_S3_REGION (us-east-1), HEADWATER_VAR_DIR, HEADWATER_CACHE.
set -euo pipefail
NAME=trino
# shellcheck source=deploy/local/common.sh
source "$(dirname "$0")/common.sh"

TRINO_VERSION=476
PORT="${HEADWATER_TRINO_PORT:-8085}"
HEAP="${HEADWATER_TRINO_HEAP:-2G}"
JAVA_HOME_TRINO="${HEADWATER_TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
PG_PORT="${HEADWATER_PG_PORT:-54329}"
PG_USER="${HEADWATER_PG_USER:-headwater}"
CATALOG_DB="${HEADWATER_CATALOG_DATABASE:-headwater_catalog}"
WAREHOUSE="${HEADWATER_WAREHOUSE:-file://$VAR/warehouse}"
S3_ENDPOINT="${HEADWATER_S3_ENDPOINT:-http://127.0.0.1:${HEADWATER_S3_PORT:-8333}}"
S3_ACCESS_KEY="${HEADWATER_S3_ACCESS_KEY:-headwater}"
S3_SECRET_KEY="${HEADWATER_S3_SECRET_KEY:-headwater-local-secret}"
S3_REGION="${HEADWATER_S3_REGION:-us-east-1}"

SERVER="$CACHE/trino-$TRINO_VERSION"
HOME_DIR="$VAR/trino"
ETC="$HOME_DIR/etc"
DATA="$HOME_DIR/data"
LOG="$DATA/var/log/server.log"
LAUNCHER_LOG="$DATA/var/log/launcher.log"
PIDFILE="$DATA/var/run/launcher.pid"

launcher() {
    JAVA_HOME="$JAVA_HOME_TRINO" PATH="$JAVA_HOME_TRINO/bin:$PATH" \
        "$SERVER/bin/launcher" --etc-dir="$ETC" --data-dir="$DATA" --pid-file="$PIDFILE" \
        --launcher-log-file="$LAUNCHER_LOG" --server-log-file="$LOG" "$@"
}

is_running() {
    [[ -x "$SERVER/bin/launcher" ]] && launcher status >/dev/null 2>&1
}

install_server() {
    [[ -f "$SERVER/.headwater-ready" ]] && return 0
    local download partial
    download="$(mktemp -d "$CACHE/trino-download.XXXXXX")"
    partial="$SERVER.partial"
    echo "$NAME: installing Trino $TRINO_VERSION into $SERVER (once; about 540 MB from Maven)"
    mvn_fetch "io.trino:trino-server-core:$TRINO_VERSION:tar.gz" "$download"
    mvn_fetch "io.trino:trino-iceberg:$TRINO_VERSION:zip" "$download"
    rm -rf "$partial"
    mkdir -p "$partial"
    tar -xzf "$download/trino-server-core-$TRINO_VERSION.tar.gz" -C "$partial" --strip-components=1
    # Only the Iceberg connector is used: the core's other plugins would only slow start-up.
    rm -rf "$partial/plugin"
    mkdir -p "$partial/plugin"
    unzip -q "$download/trino-iceberg-$TRINO_VERSION.zip" -d "$partial/plugin"
    mv "$partial/plugin/trino-iceberg-$TRINO_VERSION" "$partial/plugin/iceberg"
    rm -rf "$download" "$SERVER"
    touch "$partial/.headwater-ready"
    mv "$partial" "$SERVER"
}

# The configuration of one start, as the files it consists of, separated by markers.
render_config() {
    cat <<EOF
#### node.properties
node.environment=headwater_local
node.id=headwater-local
node.data-dir=$DATA
node.bind-ip=127.0.0.1
node.internal-address=127.0.0.1
#### config.properties
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery.uri=http://127.0.0.1:$PORT
#### jvm.config
-server
-Xmx$HEAP
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+EnableDynamicAgentLoading
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
#### log.properties
io.trino=INFO
#### catalog/iceberg.properties
connector.name=iceberg
iceberg.catalog.type=jdbc
iceberg.jdbc-catalog.catalog-name=headwater
iceberg.jdbc-catalog.driver-class=org.postgresql.Driver
iceberg.jdbc-catalog.connection-url=jdbc:postgresql://127.0.0.1:$PG_PORT/$CATALOG_DB
iceberg.jdbc-catalog.connection-user=$PG_USER
iceberg.jdbc-catalog.default-warehouse-dir=$WAREHOUSE
# Tables may live in the local warehouse (file://) or on the S3 server (s3://): both are on.
# The local root is / because Iceberg's file:// locations are absolute paths.
fs.native-local.enabled=true
local.location=/
fs.native-s3.enabled=true
s3.endpoint=$S3_ENDPOINT
s3.region=$S3_REGION
s3.path-style-access=true
s3.aws-access-key=$S3_ACCESS_KEY
s3.aws-secret-key=$S3_SECRET_KEY
EOF
}

# A subshell, for its umask: the catalog file holds the S3 secret key.
write_config() (
    umask 077
    local file=""
    rm -rf "$ETC"
    mkdir -p "$ETC/catalog" "$DATA"
    while IFS= read -r line; do
        if [[ "$line" == "#### "* ]]; then
            file="$ETC/${line#"#### "}"
            : >"$file"
        else
            printf '%s\n' "$line" >>"$file"
        fi
    done < <(render_config)
    rm -f "$HOME_DIR/config.rendered"
    render_config >"$HOME_DIR/config.rendered"
)

wait_ready() {
    local started="$1" info
    for _ in $(seq 1 600); do
        info="$(curl -fsS "http://127.0.0.1:$PORT/v1/info" 2>/dev/null || true)"
        if [[ "$info" == *'"starting":false'* ]]; then
            echo "$NAME: running on http://127.0.0.1:$PORT (Trino $TRINO_VERSION, ready in $((SECONDS - started)) s; log $LOG)"
            return 0
        fi
        if ! is_running; then
            # A JVM that cannot start writes only to the launcher's log.
            show_log "$LAUNCHER_LOG"
            fail_with_log "$LOG" "the server exited during start-up (logs: $LOG, $LAUNCHER_LOG)"
        fi
        sleep 0.5
    done
    show_log "$LAUNCHER_LOG"
    fail_with_log "$LOG" "the server did not report starting=false on port $PORT within 300 s (log: $LOG)"
}

# Iceberg's JDBC catalog creates its two tables when Spark first opens it, but Trino's only
# checks them and fails a query while they are missing. Creating them here, exactly as Iceberg
# does (its V0 shape; either engine adds the V1 column itself), lets Trino answer "no tables yet"
# before Spark has ever run.
init_catalog_tables() {
    bash "$ROOT/deploy/local/postgres.sh" psql -d "$CATALOG_DB" -q -v ON_ERROR_STOP=1 >/dev/null <<'EOF' \
        || fail "cannot create the Iceberg catalog tables in $CATALOG_DB: is PostgreSQL running (make postgres)?"
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS iceberg_tables(catalog_name VARCHAR(255) NOT NULL,table_namespace VARCHAR(255) NOT NULL,table_name VARCHAR(255) NOT NULL,metadata_location VARCHAR(1000),previous_metadata_location VARCHAR(1000),PRIMARY KEY (catalog_name, table_namespace, table_name));
CREATE TABLE IF NOT EXISTS iceberg_namespace_properties(catalog_name VARCHAR(255) NOT NULL,namespace VARCHAR(255) NOT NULL,property_key VARCHAR(255),property_value VARCHAR(1000),PRIMARY KEY (catalog_name, namespace, property_key));
EOF
}

start() {
    lock "$HOME_DIR/start.lock"
    require curl "the health check uses it (apt-get install curl)"
    require unzip "it unpacks the Iceberg plugin (apt-get install unzip)"
    [[ -x "$JAVA_HOME_TRINO/bin/java" ]] \
        || fail "no Java at $JAVA_HOME_TRINO: Trino $TRINO_VERSION needs Java 24 or newer (set HEADWATER_TRINO_JAVA_HOME)"
    mkdir -p "$CACHE" "$HOME_DIR"
    install_server
    init_catalog_tables
    if is_running; then
        if [[ "$(render_config)" == "$(cat "$HOME_DIR/config.rendered" 2>/dev/null)" ]]; then
            wait_ready "$SECONDS"
            return 0
        fi
        echo "$NAME: settings changed; restarting"
        launcher stop >/dev/null
    fi
    if port_open "$PORT"; then
        fail "127.0.0.1:$PORT is in use by another process; set HEADWATER_TRINO_PORT to a free port"
    fi
    write_config
    mkdir -p "$(dirname "$LOG")"
    : >"$LOG"
    : >"$LAUNCHER_LOG"
    local started=$SECONDS
    # 9>&-: the server must not inherit (and so hold) the start lock.
    launcher start >/dev/null 9>&- || fail_with_log "$LAUNCHER_LOG" "the launcher could not start the server"
    wait_ready "$started"
}

stop() {
    if is_running; then
        launcher stop >/dev/null
        echo "$NAME: stopped"
    else
        echo "$NAME: not running"
    fi
}

dispatch "$@"
