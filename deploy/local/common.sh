# shellcheck shell=bash disable=SC2034  # its variables are read by the scripts that source it
# Shared by the local-stack scripts (s3.sh, trino.sh, spark.sh); sourced, never run.
#
# The caller sets NAME (used in messages) before sourcing. Settings come from HEADWATER_
# environment variables with the same defaults as headwater/settings.py.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# HEADWATER_VAR_DIR as headwater/settings.py reads it (HEADWATER_VAR is the older spelling).
VAR="${HEADWATER_VAR_DIR:-${HEADWATER_VAR:-$ROOT/var}}"
CACHE="${HEADWATER_CACHE:-$HOME/.cache/headwater}"

fail() {
    echo "$NAME: $*" >&2
    exit 1
}

show_log() {
    if [[ -s "$1" ]]; then
        echo "---- last lines of $1 ----" >&2
        tail -n 40 "$1" >&2
        echo "----" >&2
    fi
}

# Fails with the end of a log, so a broken start explains itself without a second look.
fail_with_log() {
    show_log "$1"
    shift
    fail "$*"
}

require() {
    command -v "$1" >/dev/null || fail "$1 not found: $2"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Fetches one Maven artifact (g:a:v[:type[:classifier]]) into a directory; Maven keeps its own
# copy under ~/.m2, so a second machine-local fetch downloads nothing.
mvn_fetch() {
    local artifact="$1" target="$2" log
    require mvn "it fetches jars and the Trino server (apt-get install maven)"
    mkdir -p "$target"
    log="$(mktemp)"
    echo "$NAME: fetching $artifact"
    if ! mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$target" \
        >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        fail "maven could not fetch $artifact"
    fi
    rm -f "$log"
}

# A process we started, still alive, found through its pid file.
pid_alive() {
    local pidfile="$1" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Stops the process of a pid file: TERM, then KILL after a grace period.
stop_pid() {
    local pidfile="$1" pid
    pid_alive "$pidfile" || { rm -f "$pidfile"; return 1; }
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# Serialises starts of one service: tests in several processes may all ask for it at once.
lock() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    flock -w 600 9 || fail "waited 600 s for $1 (another start still running?)"
}

# The command line every service script shares; the script defines NAME, PORT, start, stop and
# is_running before calling it.
dispatch() {
    case "${1:-start}" in
        start) start ;;
        stop) stop ;;
        status)
            if is_running; then echo "$NAME: running on http://127.0.0.1:$PORT"; else
                echo "$NAME: not running"
                exit 3
            fi
            ;;
        url) echo "http://127.0.0.1:$PORT" ;;
        *) fail "usage: $0 start|stop|status|url" ;;
    esac
}
