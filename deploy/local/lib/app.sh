# shellcheck shell=bash
# deploy/local/lib/app.sh -- the project's own programs: build, topics, gateway, workers.
#
# Binaries come from the CMake "release" preset (build/release). They are rebuilt when missing
# or older than any C source, header or CMake file in the tree. Topics are created by the
# project's ingestctl, never by Kafka's scripts, so the topic layout lives in one place.

BUILD_DIR="$ROOT/build/release"
INGESTCTL="$BUILD_DIR/workers/ingestctl"
GATEWAY_BIN="$BUILD_DIR/ingest/ingest-gateway"
WORKER_BIN="$BUILD_DIR/workers/ingest-worker"
GATEWAY_CONF="$ROOT/config/local/gateway.conf"
WORKER_CONF="$ROOT/config/local/worker.conf"
GATEWAY_START_TIMEOUT=30
APP_STOP_TIMEOUT=15

# Print the first source file newer than $1 (nothing when $1 is up to date).
app_newer_source() {
    find "$ROOT" \( -path "$ROOT/build" -o -path "$ROOT/.local" -o -path "$ROOT/.git" \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' -o -name CMakeLists.txt -o -name '*.cmake' \
        -o -name CMakePresets.json \) -newer "$1" -print -quit
}

# app_build BINARY...: build the release preset unless every BINARY exists and is up to date.
app_build() {
    local bin stale=
    for bin in "$@"; do
        if [[ ! -x $bin ]]; then
            stale="${bin#"$ROOT"/} is missing"
            break
        fi
        local newer
        newer=$(app_newer_source "$bin")
        if [[ -n $newer ]]; then
            stale="${newer#"$ROOT"/} is newer than ${bin#"$ROOT"/}"
            break
        fi
    done
    [[ -z $stale ]] && return 0
    [[ -f $ROOT/CMakePresets.json ]] ||
        die "cannot build: $ROOT/CMakePresets.json is missing ($stale)"
    msg "building (release preset): $stale"
    local log="$LOG_DIR/build.log" started
    started=$(now_s)
    (
        cd "$ROOT" &&
            { [[ -f $BUILD_DIR/CMakeCache.txt ]] || cmake --preset release; } &&
            cmake --build --preset release -j2
    ) >"$log" 2>&1 || { log_tail "$log" 40; die "build failed (see $log)"; }
    msg "build done in $(($(now_s) - started))s"
    for bin in "$@"; do
        [[ -x $bin ]] || die "build succeeded but ${bin#"$ROOT"/} was not produced (no such target yet?)"
    done
}

# Export the stack's addresses to the programs we run, as the env file does for tests.
app_env() {
    export ING_KAFKA_BROKERS="$KAFKA_HOST:$KAFKA_PORT" ING_PG_URL="$PG_URL" \
        ING_GATEWAY_URL="$GATEWAY_URL" KAFKA_LIBS
}

topics_create() {
    app_build "$INGESTCTL"
    [[ -f $WORKER_CONF ]] || die "cannot create topics: ${WORKER_CONF#"$ROOT"/} is missing"
    local log="$LOG_DIR/ingestctl.log"
    app_env
    msg "creating topics (ingestctl topics create)"
    "$INGESTCTL" -c "$WORKER_CONF" topics create >"$log" 2>&1 </dev/null ||
        { log_tail "$log"; die "ingestctl topics create failed (see $log)"; }
}

gateway_pid() { pid_of gateway "$GATEWAY_BIN"; }
worker_pid() { pid_of "worker-$1" "$WORKER_BIN"; }

gateway_start() {
    local pid
    if pid=$(gateway_pid); then
        msg "gateway already running (pid $pid)"
        return 0
    fi
    [[ -f $GATEWAY_CONF ]] || die "cannot start the gateway: ${GATEWAY_CONF#"$ROOT"/} is missing"
    ! port_open "$GATEWAY_HOST" "$GATEWAY_PORT" ||
        die "port $GATEWAY_HOST:$GATEWAY_PORT is taken by a process this stack did not start"
    app_env
    msg "starting gateway on $GATEWAY_URL"
    spawn gateway "$LOG_DIR/gateway.log" "$GATEWAY_BIN" -c "$GATEWAY_CONF"
    local started deadline code
    started=$(now_s)
    deadline=$((started + GATEWAY_START_TIMEOUT))
    while :; do
        code=$(http_status "$GATEWAY_URL/healthz")
        [[ $code == 200 ]] && break
        if ! pid=$(gateway_pid); then
            log_tail "$LOG_DIR/gateway.log"
            die "gateway exited during start-up (log $LOG_DIR/gateway.log)"
        fi
        if (($(now_s) >= deadline)); then
            log_tail "$LOG_DIR/gateway.log"
            die "gateway GET /healthz did not answer 200 within ${GATEWAY_START_TIMEOUT}s (last: $code)"
        fi
        sleep 0.5
    done
    msg "gateway ready in $(($(now_s) - started))s (pid $(gateway_pid))"
}

worker_start() {
    local id=$1 pid
    if pid=$(worker_pid "$id"); then
        msg "worker-$id already running (pid $pid)"
        return 0
    fi
    [[ -f $WORKER_CONF ]] || die "cannot start workers: ${WORKER_CONF#"$ROOT"/} is missing"
    app_env
    msg "starting worker-$id"
    spawn "worker-$id" "$LOG_DIR/worker-$id.log" \
        env ING_WORKER_ID="$id" "$WORKER_BIN" -c "$WORKER_CONF"
}

# Workers have no port to probe: give them a moment and check they did not exit at once
# (bad configuration, unsafe PostgreSQL settings, unreachable broker).
workers_check() {
    sleep 2
    local id
    for ((id = 1; id <= WORKER_COUNT; id++)); do
        worker_pid "$id" >/dev/null || {
            log_tail "$LOG_DIR/worker-$id.log"
            die "worker-$id exited during start-up (log $LOG_DIR/worker-$id.log)"
        }
    done
}

app_start() {
    app_build "$INGESTCTL" "$GATEWAY_BIN" "$WORKER_BIN"
    gateway_start
    local id started=0
    for ((id = 1; id <= WORKER_COUNT; id++)); do
        worker_pid "$id" >/dev/null || started=1
        worker_start "$id"
    done
    ((started == 0)) || workers_check
}

app_stop() {
    local pids=() names=() pid id i
    if pid=$(gateway_pid); then pids+=("$pid"); names+=(gateway); fi
    for ((id = 1; id <= WORKER_COUNT; id++)); do
        if pid=$(worker_pid "$id"); then pids+=("$pid"); names+=("worker-$id"); fi
    done
    ((${#pids[@]} > 0)) || return 0
    msg "stopping ${names[*]}"
    # Signal all first so they drain in parallel, then wait for each.
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for i in "${!pids[@]}"; do
        stop_pid "${names[$i]}" "${pids[$i]}" "$APP_STOP_TIMEOUT"
    done
}

app_status() {
    local pid id
    if pid=$(gateway_pid); then
        printf '%-10s %-8s pid %-8s %s\n' gateway running "$pid" "$GATEWAY_URL (healthz $(http_status "$GATEWAY_URL/healthz"))"
    else
        printf '%-10s %-8s %-12s %s\n' gateway stopped - "$GATEWAY_URL"
    fi
    for ((id = 1; id <= WORKER_COUNT; id++)); do
        if pid=$(worker_pid "$id"); then
            printf '%-10s %-8s pid %-8s %s\n' "worker-$id" running "$pid" "ING_WORKER_ID=$id"
        else
            printf '%-10s %-8s %-12s %s\n' "worker-$id" stopped - "ING_WORKER_ID=$id"
        fi
    done
}
