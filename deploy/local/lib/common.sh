# shellcheck shell=bash
# deploy/local/lib/common.sh -- paths, messages, locking and process helpers for the stack.
#
# Sourced by deploy/local/stack before any component file. Every path is derived from the
# repository root (found from the script's own location), so the stack works from any cwd and
# in any clone folder. Nothing here starts a component; it only provides the shared vocabulary.

# Root PATH on some hosts lacks sbin (runuser lives there).
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" ;; esac
export PATH

: "${ROOT:?ROOT must be set by deploy/local/stack}"
LOCAL_DIR="$ROOT/.local"
CACHE_DIR="$LOCAL_DIR/cache"
STATE_DIR="$LOCAL_DIR/state"
LOG_DIR="$STATE_DIR/log"
RUN_DIR="$STATE_DIR/run"
ENV_FILE="$STATE_DIR/env"

# Fixed local addresses: tests, benchmarks and config/local/*.conf assume these.
KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
PG_HOST=127.0.0.1
PG_PORT=55432
PG_USER=ingest
PG_PASSWORD=ingest
PG_DB=ingest
PG_URL="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"
GATEWAY_HOST=127.0.0.1
GATEWAY_PORT=8080
GATEWAY_URL="http://$GATEWAY_HOST:$GATEWAY_PORT"
WORKER_COUNT=2

msg() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# log_tail FILE [LINES] [FROM_BYTE]: print the last lines of a log file to stderr, indented,
# to explain a failure. Only this run's lines: those after FROM_BYTE and after the last
# "==== ... starting NAME ====" banner that spawn writes.
log_tail() {
    local file=$1 lines=${2:-30} from=${3:-0} text
    [[ -r $file ]] || return 0
    text=$(tail -c +"$((from + 1))" -- "$file" | awk -v max="$lines" '
        /^==== .* ====$/ { n = 0; next }
        NF { buf[n++] = $0 }
        END { for (i = (n > max ? n - max : 0); i < n; i++) print buf[i] }') || true
    [[ -n $text ]] || return 0
    printf 'stack: --- %s (last %d lines) ---\n' "$file" "$lines" >&2
    printf '%s\n' "$text" | sed 's/^/  | /' >&2
}

# log_size FILE: current size in bytes (0 when missing), for log_tail's FROM_BYTE.
log_size() { stat -c %s -- "$1" 2>/dev/null || printf '0'; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "'$1' must run as root (it installs packages and runs PostgreSQL as the postgres user)"
}

# Serialise up/down: tests and benchmarks may call the stack concurrently.
take_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/stack.lock"
    flock -w 600 9 || die "another 'stack' command holds $RUN_DIR/stack.lock for over 600 s"
}

ensure_dirs() {
    mkdir -p "$CACHE_DIR" "$LOG_DIR" "$RUN_DIR"
    # The postgres OS user must traverse to its data, socket and log paths.
    chmod 755 "$LOCAL_DIR" "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
}

now_s() { date +%s; }

# ---- pid files ---------------------------------------------------------------------------

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# pid_of NAME PATTERN: print the pid recorded for NAME if that process is alive and its command
# line contains PATTERN (guards against a recycled pid); otherwise drop a stale pid file.
pid_of() {
    local name=$1 pattern=$2 file pid
    file=$(pid_file "$name")
    [[ -r $file ]] || return 1
    pid=$(head -n 1 -- "$file" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"; then
        printf '%s\n' "$pid"
        return 0
    fi
    [[ -w $file ]] && rm -f -- "$file"
    return 1
}

# spawn NAME LOGFILE CMD...: start CMD detached (own session, no stdin, output appended to
# LOGFILE) and record its pid. The child writes its own pid before exec, so the pid is the
# program's, whatever setsid does about forking.
spawn() {
    local name=$1 log=$2
    shift 2
    local file
    file=$(pid_file "$name")
    rm -f -- "$file"
    printf '\n==== %s: starting %s ====\n' "$(date -Is)" "$name" >>"$log"
    # shellcheck disable=SC2016 # expanded by the child shell
    # 9>&-: the daemon must not inherit (and so hold forever) the stack lock.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$file" "$@" </dev/null >>"$log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $file ]] && return 0
        sleep 0.1
    done
    die "could not start $name (no pid file after 5 s)"
}

# stop_pid NAME PID GRACE_SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 grace=$3 deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(now_s) + grace))
    while kill -0 "$pid" 2>/dev/null; do
        if (($(now_s) >= deadline)); then
            msg "$name (pid $pid) still running after ${grace}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f -- "$(pid_file "$name")"
    msg "$name stopped"
}

# ---- network -----------------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# http_status URL: print the HTTP status code (000 when nothing answers).
http_status() {
    local url=$1
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' -- "$url" 2>/dev/null || true
    else
        python3 - "$url" <<'PY' 2>/dev/null || printf '000'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        print(r.status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
    fi
}

# write_env: the file tests and benchmarks source (`set -a; . .local/state/env; set +a`).
write_env() {
    local tmp="$ENV_FILE.tmp"
    {
        printf '# Written by deploy/local/stack; source with: set -a; . %s; set +a\n' "$ENV_FILE"
        printf 'ING_BROKERS=%s\n' "$KAFKA_HOST:$KAFKA_PORT"
        printf 'ING_PG_URL=%s\n' "$PG_URL"
        printf 'ING_GATEWAY_URL=%s\n' "$GATEWAY_URL"
        local id urls=()
        for ((id = 1; id <= WORKER_COUNT; id++)); do
            urls+=("http://127.0.0.1:$((9100 + id))/metrics")
        done
        printf 'ING_WORKER_METRICS_URLS=%s\n' "$(IFS=,; printf '%s' "${urls[*]}")"
        printf 'KAFKA_LIBS=%q\n' "$KAFKA_LIBS"
    } >"$tmp"
    mv -f -- "$tmp" "$ENV_FILE"
}
