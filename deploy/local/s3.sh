#!/usr/bin/env bash
# The local S3-compatible object store of `make up` and `make test`: start | stop | status | url.
#
# SeaweedFS (Apache-2.0) in its all-in-one `weed mini` mode: master, volume server, filer and S3
# gateway in one process, on loopback, data under var/seaweedfs. MinIO's server is AGPL, so the
# project talks S3 (with the `minio` client) but never ships or builds that server. The `weed`
# binary is built once from the Go module proxy into ${HEADWATER_CACHE:-~/.cache/headwater}/bin;
# Go keeps its module and build caches under the home folder. `start` is idempotent: it builds
# the binary when missing, starts the server when it is not running (restarts it when the
# credentials changed), waits until S3 answers, and creates the warehouse and raw-landing
# buckets with Headwater's own client code (runner/objectstore.py).
#
# Settings (environment): HEADWATER_S3_PORT (8333; the server's other ports follow it: +1 master,
# +2 volume, +3 filer, +4 admin, and +10000 for each gRPC port), HEADWATER_S3_ACCESS_KEY and
# HEADWATER_S3_SECRET_KEY (static credentials; the defaults are for local development only),
# HEADWATER_WAREHOUSE_BUCKET, HEADWATER_RAW_BUCKET, HEADWATER_VAR_DIR, HEADWATER_CACHE.
set -euo pipefail
NAME=s3
# shellcheck source=deploy/local/common.sh
source "$(dirname "$0")/common.sh"

# SeaweedFS 4.53. Its releases carry no Go-style tags, so the module proxy knows it by this
# pseudo-version.
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED="$CACHE/bin/weed-$SEAWEEDFS_VERSION"

PORT="${HEADWATER_S3_PORT:-8333}"
ACCESS_KEY="${HEADWATER_S3_ACCESS_KEY:-headwater}"
SECRET_KEY="${HEADWATER_S3_SECRET_KEY:-headwater-local-secret}"
PYTHON="${HEADWATER_PYTHON:-$ROOT/.venv/bin/python}"

HOME_DIR="$VAR/seaweedfs"
DATA="$HOME_DIR/data"
LOG="$HOME_DIR/weed.log"
PIDFILE="$HOME_DIR/weed.pid"
CONFIG="$HOME_DIR/s3.json"
ARGS_FILE="$HOME_DIR/args"

build_weed() {
    [[ -x "$WEED" ]] && return 0
    require go "SeaweedFS is built from the Go module proxy (Go 1.26 or newer)"
    local dir partial="$WEED.partial"
    echo "$NAME: building SeaweedFS ($SEAWEEDFS_VERSION) into $WEED (once; a few minutes)"
    dir="$(go mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" \
        || fail "the Go module proxy did not serve $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION"
    [[ -d "$dir" ]] || fail "no module directory for $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION"
    mkdir -p "$(dirname "$WEED")"
    # `go install module@version` refuses modules whose go.mod has replace directives (this one
    # does), so build inside the downloaded module instead; only Go's caches are written.
    (cd "$dir" && go build -trimpath -ldflags='-s -w' -o "$partial" ./weed) \
        || fail "go build of SeaweedFS failed"
    mv "$partial" "$WEED"
}

weed_args() {
    printf '%s\n' mini "-dir=$DATA" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        "-s3.port=$PORT" "-s3.port.grpc=$((PORT + 10000))" \
        "-master.port=$((PORT + 1))" "-master.port.grpc=$((PORT + 10001))" \
        "-volume.port=$((PORT + 2))" "-volume.port.grpc=$((PORT + 10002))" \
        "-filer.port=$((PORT + 3))" "-filer.port.grpc=$((PORT + 10003))" \
        "-admin.port=$((PORT + 4))" "-admin.port.grpc=$((PORT + 10004))" \
        -admin.ui=false -admin.port.legacy=0 -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
        "-s3.config=$CONFIG"
}

render_config() {
    cat <<EOF
{
  "identities": [
    {
      "name": "headwater",
      "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
}

is_running() {
    pid_alive "$PIDFILE" && [[ "$(tr '\0' ' ' <"/proc/$(cat "$PIDFILE")/cmdline")" == *weed*mini* ]]
}

wait_ready() {
    local started="$1" code
    for _ in $(seq 1 300); do
        # Any S3 answer (403 to an anonymous request) means the gateway is serving.
        code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null || true)"
        if [[ "$code" =~ ^[2-4][0-9][0-9]$ ]]; then
            echo "$NAME: SeaweedFS S3 on http://127.0.0.1:$PORT (ready in $((SECONDS - started)) s; data $DATA, log $LOG)"
            return 0
        fi
        is_running || fail_with_log "$LOG" "the server exited during start-up (log: $LOG)"
        sleep 0.2
    done
    fail_with_log "$LOG" "S3 did not answer on 127.0.0.1:$PORT within 60 s (log: $LOG)"
}

ensure_buckets() {
    [[ -x "$PYTHON" ]] || fail "no Python at $PYTHON: run \`make install\` first"
    "$PYTHON" - <<'EOF' || fail_with_log "$LOG" "could not create the buckets"
from headwater.settings import Settings
from runner.objectstore import ensure_bucket, object_store

settings = Settings()
client = object_store(settings.object_store_config())
for bucket in (settings.warehouse_bucket, settings.raw_bucket):
    created = ensure_bucket(client, bucket)
    print(f"s3: bucket {bucket} {'created' if created else 'present'}")
EOF
}

start() {
    lock "$HOME_DIR/start.lock"
    require curl "the health check uses it (apt-get install curl)"
    build_weed
    mkdir -p "$DATA"
    if is_running; then
        if [[ "$(render_config)" == "$(cat "$CONFIG" 2>/dev/null)" \
            && "$(weed_args)" == "$(cat "$ARGS_FILE" 2>/dev/null)" ]]; then
            wait_ready "$SECONDS"
            ensure_buckets
            return 0
        fi
        echo "$NAME: settings changed; restarting"
        stop_pid "$PIDFILE" || true
    fi
    if port_open "$PORT"; then
        fail "127.0.0.1:$PORT is in use by another process; set HEADWATER_S3_PORT to a free port"
    fi
    rm -f "$CONFIG"
    (umask 077 && render_config >"$CONFIG")
    weed_args >"$ARGS_FILE"
    local started=$SECONDS args
    mapfile -t args <"$ARGS_FILE"
    echo "---- start $(date -u +%FT%TZ)" >>"$LOG"
    # 9>&-: the server must not inherit (and so hold) the start lock.
    setsid nohup "$WEED" "${args[@]}" >>"$LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
    wait_ready "$started"
    ensure_buckets
}

stop() {
    if is_running; then
        stop_pid "$PIDFILE"
        echo "$NAME: stopped"
    else
        rm -f "$PIDFILE"
        echo "$NAME: not running"
    fi
}

dispatch "$@"
