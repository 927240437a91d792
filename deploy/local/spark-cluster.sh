#!/usr/bin/env bash
# A Spark standalone cluster on loopback: start | stop | status | url | kill-worker N | start-worker N.
#
# One master and HEADWATER_SPARK_CLUSTER_WORKERS workers (1 core, 1 GB each), run from the Spark
# the pyspark wheel carries in .venv (its bin/spark-class and jars; nothing is downloaded). Each
# process runs in the foreground under setsid, so it leads a process group of its own that holds
# the executors it launches: `kill-worker N` SIGKILLs that group (a worker lost with its
# executors, for fault tests) and `start-worker N` starts it again. Pid files, logs, an empty
# Spark conf dir and the workers' work dirs live under var/spark-cluster; workers delete an
# application's directory APP_DATA_TTL seconds after it ended. `start` is idempotent: it starts
# what is not running (restarts what runs with other settings) and waits until the master lists
# every worker as ALIVE. The master also serves the REST submission API on the REST port.
#
# Settings (environment): HEADWATER_SPARK_CLUSTER_PORT (7177), HEADWATER_SPARK_CLUSTER_UI_PORT
# (8180; worker N's UI is on UI_PORT+N), HEADWATER_SPARK_CLUSTER_REST_PORT (6166),
# HEADWATER_SPARK_CLUSTER_WORKERS (2), HEADWATER_SPARK_CLUSTER_JAVA_HOME (the JDK of `java` on
# PATH, 17 or newer), HEADWATER_VAR_DIR.
set -euo pipefail
NAME=spark-cluster
# shellcheck source=deploy/local/common.sh
source "$(dirname "$0")/common.sh"

PORT="${HEADWATER_SPARK_CLUSTER_PORT:-7177}"
UI_PORT="${HEADWATER_SPARK_CLUSTER_UI_PORT:-8180}"
REST_PORT="${HEADWATER_SPARK_CLUSTER_REST_PORT:-6166}"
WORKERS="${HEADWATER_SPARK_CLUSTER_WORKERS:-2}"
PYTHON="${HEADWATER_PYTHON:-$ROOT/.venv/bin/python}"
MASTER_URL="spark://127.0.0.1:$PORT"
# Application directories go this long after the application ended, checked this often (seconds).
APP_DATA_TTL=600
CLEANUP_INTERVAL=120

HOME_DIR="$VAR/spark-cluster"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || fail "HEADWATER_SPARK_CLUSTER_WORKERS must be a positive number, not '$WORKERS'"

# The Spark home, JDK and environment every process of the cluster starts with.
prepare() {
    [[ -x "$PYTHON" ]] || fail "no Python at $PYTHON: run \`make install\` first"
    SPARK_HOME="$("$PYTHON" - <<'EOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("pyspark")
if spec is None or not spec.submodule_search_locations:
    sys.exit("the pyspark wheel is not installed in this environment")
print(pathlib.Path(spec.submodule_search_locations[0]))
EOF
)" || fail "cannot locate Spark (the pyspark package)"
    [[ -x "$SPARK_HOME/bin/spark-class" ]] || fail "no bin/spark-class in $SPARK_HOME"
    JAVA_HOME="${HEADWATER_SPARK_CLUSTER_JAVA_HOME:-}"
    if [[ -z "$JAVA_HOME" ]]; then
        require java "Spark 4.1 needs a JDK 17 or 21 (apt-get install openjdk-17-jdk-headless)"
        JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    fi
    local major
    major="$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 \
        | awk -F'= ' '/java.specification.version/ {print $2}')" || true
    [[ "${major:-0}" =~ ^[0-9]+$ && "$major" -ge 17 ]] \
        || fail "no Java 17 or newer at $JAVA_HOME (set HEADWATER_SPARK_CLUSTER_JAVA_HOME)"
    mkdir -p "$HOME_DIR/conf"
    # An empty conf dir: no spark-env.sh or spark-defaults.conf from elsewhere leaks in.
    export SPARK_HOME JAVA_HOME SPARK_CONF_DIR="$HOME_DIR/conf" SPARK_LOCAL_IP=127.0.0.1 \
        SPARK_DAEMON_MEMORY=512m
    # The daemons and spark-class's launcher JVM do little work: with the C1 compiler only and
    # the serial collector, a start on two cores takes about 8 s instead of about 18.
    export SPARK_DAEMON_JAVA_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" \
        SPARK_LAUNCHER_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
}

# What one process is started with (role "master" or a worker number), one item a line: the JVM
# options first, then spark-class's arguments. Ports are fixed (no retries on the next port),
# so every port is where the settings say or the start fails.
render() {
    if [[ "$1" == master ]]; then
        echo "-Dspark.port.maxRetries=0 -Dspark.master.rest.enabled=true -Dspark.master.rest.host=127.0.0.1 -Dspark.master.rest.port=$REST_PORT"
        printf '%s\n' org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" \
            --webui-port "$UI_PORT"
    else
        echo "-Dspark.port.maxRetries=0 -Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.interval=$CLEANUP_INTERVAL -Dspark.worker.cleanup.appDataTtl=$APP_DATA_TTL"
        printf '%s\n' org.apache.spark.deploy.worker.Worker "$MASTER_URL" --host 127.0.0.1 \
            --cores 1 --memory 1g --webui-port "$((UI_PORT + $1))" \
            --work-dir "$HOME_DIR/work/worker-$1"
    fi
}

label() {
    if [[ "$1" == master ]]; then echo "the master"; else echo "worker $1"; fi
}

file_of() {
    if [[ "$1" == master ]]; then echo "$HOME_DIR/master.$2"; else echo "$HOME_DIR/worker-$1.$2"; fi
}

# A zombie (nothing may reap it at once) has an empty command line, so it does not count.
process_up() {
    local pidfile class
    pidfile="$(file_of "$1" pid)"
    if [[ "$1" == master ]]; then class=deploy.master.Master; else class=deploy.worker.Worker; fi
    pid_alive "$pidfile" && [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$(cat "$pidfile")/cmdline")" == *"$class"* ]]
}

is_running() {
    local n
    process_up master || return 1
    for n in $(seq 1 "$WORKERS"); do process_up "$n" || return 1; done
}

# The numbers of the workers that have a pid file, whatever the setting says now.
known_workers() {
    local pidfile n
    for pidfile in "$HOME_DIR"/worker-*.pid; do
        [[ -e "$pidfile" ]] || continue
        n="${pidfile##*/worker-}"
        echo "${n%.pid}"
    done
}

# A process's descendants. Executors stay in their worker's process group, but PySpark's
# daemon (an executor's Python workers) moves to a group of its own.
descendants() {
    local child
    for child in $(pgrep -P "$1"); do
        echo "$child"
        descendants "$child"
    done
}

# Stops one process, then whatever it launched (executors, their Python workers) that outlived it.
stop_process() {
    local pidfile pid kids
    pidfile="$(file_of "$1" pid)"
    if process_up "$1"; then
        pid="$(cat "$pidfile")"
        mapfile -t kids < <(descendants "$pid")
        stop_pid "$pidfile" || true
        pkill -KILL -g "$pid" 2>/dev/null || true
        if ((${#kids[@]})); then kill -KILL "${kids[@]}" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
}

launch() {
    local role="$1" port log opts args opts_var=SPARK_WORKER_OPTS
    for port in "${@:2}"; do
        if port_open "$port"; then
            fail "127.0.0.1:$port is in use by another process; set HEADWATER_SPARK_CLUSTER_* ports to free ones"
        fi
    done
    log="$(file_of "$role" log)"
    render "$role" >"$(file_of "$role" args)"
    mapfile -t args <"$(file_of "$role" args)"
    opts="${args[0]}"
    args=("${args[@]:1}")
    if [[ "$role" == master ]]; then opts_var=SPARK_MASTER_OPTS; else mkdir -p "$HOME_DIR/work/worker-$role"; fi
    echo "---- start $(date -u +%FT%TZ)" >>"$log"
    # 9>&-: the process must not inherit (and so hold) the start lock.
    env "$opts_var=$opts" setsid nohup "$SPARK_HOME/bin/spark-class" "${args[@]}" >>"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$(file_of "$role" pid)"
}

# Starts worker N unless it runs with the current settings.
ensure_worker() {
    if process_up "$1"; then
        [[ "$(render "$1")" == "$(cat "$(file_of "$1" args)" 2>/dev/null)" ]] && return 0
        echo "$NAME: worker $1's settings changed; restarting it"
        stop_process "$1"
    fi
    launch "$1" "$((UI_PORT + $1))"
}

# Exit 0 when the master is up and lists the workers on the given UI ports as ALIVE: each
# worker's own UI names its id (a restarted worker registers under a new one).
registered() {
    "$PYTHON" -I -S - "$UI_PORT" "$@" <<'EOF' 2>/dev/null
import json, sys, urllib.request

def state(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=2) as answer:
        return json.load(answer)

master = state(sys.argv[1])
alive = {w["id"] for w in master["workers"] if w["state"] == "ALIVE"}
ok = master["status"] == "ALIVE" and all(state(port)["id"] in alive for port in sys.argv[2:])
sys.exit(0 if ok else 1)
EOF
}

# True when process $1 is down on two looks a second apart: while spark-class hands over to its
# JVM (an exec), reading the process's command line can come back empty for an instant.
gone() {
    process_up "$1" && return 1
    sleep 1
    ! process_up "$1"
}

# Waits (60 s from $1) until the master lists workers $2... as ALIVE; a process that exits meanwhile
# fails the start with its log.
wait_registered() {
    local started="$1" role ports=()
    shift
    for role in "$@"; do ports+=("$((UI_PORT + role))"); done
    while ((SECONDS - started < 60)); do
        for role in master "$@"; do
            gone "$role" \
                && fail_with_log "$(file_of "$role" log)" "$(label "$role") exited during start-up (log: $(file_of "$role" log))"
        done
        registered "${ports[@]}" && return 0
        sleep 0.5
    done
    for role in "$@"; do show_log "$(file_of "$role" log)"; done
    show_log "$(file_of master log)"
    fail "the master on $MASTER_URL did not list worker(s) $* as ALIVE within 60 s (logs: $HOME_DIR)"
}

start() {
    lock "$HOME_DIR/start.lock"
    prepare
    local started=$SECONDS n
    if ! process_up master || [[ "$(render master)" != "$(cat "$(file_of master args)" 2>/dev/null)" ]]; then
        # Workers of an earlier master would wait out their reconnect back-off: restart them too.
        for n in $(known_workers); do stop_process "$n"; done
        stop_process master
        launch master "$PORT" "$UI_PORT" "$REST_PORT"
        wait_registered "$started"
    fi
    for n in $(seq 1 "$WORKERS"); do ensure_worker "$n"; done
    # Workers past the configured number (the setting was lowered) are not part of this cluster.
    for n in $(known_workers); do
        if ((n > WORKERS)); then stop_process "$n"; fi
    done
    wait_registered "$started" $(seq 1 "$WORKERS")
    echo "$NAME: master $MASTER_URL with $WORKERS worker(s) (ready in $((SECONDS - started)) s; UI http://127.0.0.1:$UI_PORT, REST http://127.0.0.1:$REST_PORT, logs $HOME_DIR)"
}

stop() {
    local n stopped=""
    for n in $(known_workers); do
        if process_up "$n"; then stopped=1; fi
        stop_process "$n"
    done
    if process_up master; then stopped=1; fi
    stop_process master
    if [[ -n "$stopped" ]]; then echo "$NAME: stopped"; else echo "$NAME: not running"; fi
}

worker_number() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]] && ((${1} <= WORKERS)) \
        || fail "usage: $0 kill-worker|start-worker N, with N from 1 to $WORKERS"
}

# SIGKILLs worker N with everything it launched (executors, their Python workers) at once: a
# lost machine, with no shutdown of any of them.
kill_worker() {
    worker_number "$1"
    process_up "$1" || fail "worker $1 is not running"
    local pidfile pid kids
    pidfile="$(file_of "$1" pid)"
    pid="$(cat "$pidfile")"
    # The group is the worker's own only if setsid made it the leader; never signal another.
    [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]] \
        || fail "worker $1 (pid $pid) does not lead its own process group; not killing"
    mapfile -t kids < <(descendants "$pid")
    kill -KILL -- "-$pid"
    if ((${#kids[@]})); then kill -KILL "${kids[@]}" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do
        process_up "$1" || break
        sleep 0.1
    done
    rm -f "$pidfile"
    echo "$NAME: worker $1 (pid $pid) killed with ${#kids[@]} processes it launched"
}

start_worker() {
    worker_number "$1"
    lock "$HOME_DIR/start.lock"
    process_up master || fail "the master is not running: run \`$0 start\`"
    prepare
    local started=$SECONDS
    ensure_worker "$1"
    wait_registered "$started" "$1"
    echo "$NAME: worker $1 ALIVE on $MASTER_URL (in $((SECONDS - started)) s; UI http://127.0.0.1:$((UI_PORT + $1)))"
}

status() {
    local n up=0
    for n in $(seq 1 "$WORKERS"); do if process_up "$n"; then up=$((up + 1)); fi; done
    if is_running; then
        echo "$NAME: running at $MASTER_URL ($WORKERS worker(s); UI http://127.0.0.1:$UI_PORT)"
    else
        echo "$NAME: not running (master $(process_up master && echo up || echo down), $up of $WORKERS workers)"
        exit 3
    fi
}

case "${1:-start}" in
    start | stop) dispatch "$1" ;;
    status) status ;;
    url) echo "$MASTER_URL" ;;
    kill-worker) kill_worker "${2:-}" ;;
    start-worker) start_worker "${2:-}" ;;
    *) fail "usage: $0 start|stop|status|url|kill-worker N|start-worker N" ;;
esac
