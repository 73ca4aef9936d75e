# shellcheck shell=bash
# deploy/local/lib/app.sh -- the project's own programs: build, topics, gateway, workers.
#
# Binaries come from the CMake "release" preset (build/release); ninja rebuilds the targets the
# stack runs whenever they are missing or stale. Topics are created by the
# project's ingestctl, never by Kafka's scripts, so the topic layout lives in one place.

BUILD_DIR="$ROOT/build/release"
INGESTCTL="$BUILD_DIR/workers/ingestctl"
GATEWAY_BIN="$BUILD_DIR/ingest/ingest-gateway"
WORKER_BIN="$BUILD_DIR/workers/ingest-worker"
GATEWAY_CONF="$ROOT/config/local/gateway.conf"
WORKER_CONF="$ROOT/config/local/worker.conf"
GATEWAY_START_TIMEOUT=30
APP_STOP_TIMEOUT=15

# app_build BINARY...: make sure each BINARY (a path under build/release whose basename is its
# CMake target) exists and is up to date. Ninja itself decides what is stale (a dry run);
# only the needed targets are built, so an unrelated half-written file elsewhere in the tree
# does not stop the stack.
app_build() {
    local targets=() bin log="$LOG_DIR/build.log" started
    for bin in "$@"; do targets+=("$(basename -- "$bin")"); done
    [[ -f $ROOT/CMakePresets.json ]] ||
        die "cannot build ${targets[*]}: $ROOT/CMakePresets.json is missing"
    if [[ -f $BUILD_DIR/build.ninja ]]; then
        local plan
        plan=$(cd "$ROOT" && cmake --build --preset release --target "${targets[@]}" -- -n 2>&1) ||
            { printf '%s\n' "$plan" | tail -n 20 >&2; die "cannot build ${targets[*]} (no such CMake target yet?)"; }
        grep -q 'no work to do' <<<"$plan" && return 0
    fi
    msg "building ${targets[*]} (release preset, log ${log#"$ROOT"/})"
    started=$(now_s)
    (
        cd "$ROOT" &&
            { [[ -f $BUILD_DIR/build.ninja ]] || cmake --preset release; } &&
            cmake --build --preset release -j2 --target "${targets[@]}"
    ) >"$log" 2>&1 || { log_tail "$log" 40; die "build of ${targets[*]} failed (see $log)"; }
    msg "build done in $(($(now_s) - started))s"
    for bin in "$@"; do
        [[ -x $bin ]] || die "build succeeded but ${bin#"$ROOT"/} was not produced"
    done
}

# The env file's names are for tests, not settings; ING_KAFKA_* in particular would reach
# librdkafka as kafka.* properties (ING_KAFKA_BROKERS would become "brokers", unknown). Programs the
# stack runs get their addresses from config/local/*.conf only, even when the caller's shell
# has sourced the env file.
APP_ENV=(env -u ING_BROKERS -u ING_PG_URL -u ING_GATEWAY_URL -u ING_WORKER_METRICS_URLS -u KAFKA_LIBS)

topics_create() {
    app_build "$INGESTCTL"
    [[ -f $WORKER_CONF ]] || die "cannot create topics: ${WORKER_CONF#"$ROOT"/} is missing"
    local log="$LOG_DIR/ingestctl.log"
    msg "creating topics (ingestctl topics create)"
    "${APP_ENV[@]}" "$INGESTCTL" -c "$WORKER_CONF" topics create >"$log" 2>&1 </dev/null ||
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
    local log_from
    log_from=$(log_size "$LOG_DIR/gateway.log")
    msg "starting gateway on $GATEWAY_URL"
    spawn gateway "$LOG_DIR/gateway.log" "${APP_ENV[@]}" "$GATEWAY_BIN" -c "$GATEWAY_CONF"
    local started deadline code
    started=$(now_s)
    deadline=$((started + GATEWAY_START_TIMEOUT))
    while :; do
        code=$(http_status "$GATEWAY_URL/healthz")
        [[ $code == 200 ]] && break
        if ! pid=$(gateway_pid); then
            log_tail "$LOG_DIR/gateway.log" 30 "$log_from"
            die "gateway exited during start-up (log $LOG_DIR/gateway.log)"
        fi
        if (($(now_s) >= deadline)); then
            log_tail "$LOG_DIR/gateway.log" 30 "$log_from"
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
    ! port_open 127.0.0.1 "$(worker_metrics_port "$id")" ||
        die "port 127.0.0.1:$(worker_metrics_port "$id") is taken by a process this stack did not start"
    msg "starting worker-$id (metrics on $(worker_metrics_url "$id"))"
    spawn "worker-$id" "$LOG_DIR/worker-$id.log" \
        "${APP_ENV[@]}" ING_WORKER_ID="$id" \
        ING_WORKER_METRICS_LISTEN="127.0.0.1:$(worker_metrics_port "$id")" \
        "$WORKER_BIN" -c "$WORKER_CONF"
}

# Each worker's operators' endpoint (GET /metrics, /healthz): 9101, 9102, ...
worker_metrics_port() { printf '%d' $((9100 + $1)); } # write_env lists the same URLs
worker_metrics_url() { printf 'http://127.0.0.1:%d/metrics' "$(worker_metrics_port "$1")"; }

# A worker answers /healthz once its database is reachable and its threads run; one that exits
# at once (bad configuration, unsafe PostgreSQL settings) is reported with its log.
workers_check() {
    local id deadline=$(($(now_s) + 30))
    for ((id = 1; id <= WORKER_COUNT; id++)); do
        until [[ $(http_status "http://127.0.0.1:$(worker_metrics_port "$id")/healthz") == 200 ]]; do
            worker_pid "$id" >/dev/null || {
                log_tail "$LOG_DIR/worker-$id.log"
                die "worker-$id exited during start-up (log $LOG_DIR/worker-$id.log)"
            }
            (($(now_s) < deadline)) || {
                log_tail "$LOG_DIR/worker-$id.log"
                die "worker-$id GET /healthz did not answer 200 within 30s"
            }
            sleep 0.3
        done
    done
}

app_start() {
    app_build "$INGESTCTL" "$GATEWAY_BIN" "$WORKER_BIN"
    # The encryption keyring lives outside the database and outside git, made once per machine.
    if [[ ! -f $STATE_DIR/keyring ]]; then
        msg "creating the local encryption keyring"
        "${APP_ENV[@]}" "$INGESTCTL" -c "$WORKER_CONF" keyring init "$STATE_DIR/keyring" >/dev/null
    fi
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
            printf '%-10s %-8s pid %-8s %s (healthz %s)\n' "worker-$id" running "$pid" \
                "$(worker_metrics_url "$id")" \
                "$(http_status "http://127.0.0.1:$(worker_metrics_port "$id")/healthz")"
        else
            printf '%-10s %-8s %-12s %s\n' "worker-$id" stopped - "$(worker_metrics_url "$id")"
        fi
    done
}
