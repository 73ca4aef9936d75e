# shellcheck shell=bash
# deploy/local/lib/postgres.sh -- the stack's own PostgreSQL 15 cluster and its migrations.
#
# The cluster lives in .local/state/pg and runs as the postgres OS user on 127.0.0.1:55432 with
# its socket in .local/state/run/pg. When the postgres user cannot reach the repository (a
# clone under a 0700 home, say) or the socket path would be too long, data, socket and log move
# to /var/tmp/ingest-stack-<hash of the repo path>/; the choice is remembered in
# .local/state/pg.location and shown by `status`. Migrations deploy/migrations/NNN_name.sql run
# once each, in lexical order, each in one transaction with its schema_migrations row.

PG_BIN=/usr/lib/postgresql/15/bin
PG_CONF_SNIPPET="$ROOT/deploy/local/postgres/postgresql.stack.conf"
PG_LOCATION_FILE="$STATE_DIR/pg.location"
PG_FALLBACK_DIR="/var/tmp/ingest-stack-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
MIGRATIONS_DIR="$ROOT/deploy/migrations"
PG_STOP_TIMEOUT=60

# as_postgres CMD...: run as the postgres OS user from a directory it can enter, without the
# stack lock's descriptor (the postmaster would otherwise hold the lock for its lifetime).
as_postgres() { (cd / && runuser -u postgres -- "$@" 9>&-); }

pg_location_ok_locally() {
    local sock="$STATE_DIR/run/pg/.s.PGSQL.$PG_PORT"
    ((${#sock} < 100)) || return 1
    as_postgres test -x "$STATE_DIR" -a -x "$LOG_DIR" -a -x "$RUN_DIR"
}

# Decide where the cluster lives and set PG_WHERE, PGDATA, PG_SOCKDIR, PG_LOG. The first
# `up` records the choice (pg_locate persist); read-only commands only look.
pg_locate() {
    local where=""
    [[ -r $PG_LOCATION_FILE ]] && where=$(<"$PG_LOCATION_FILE")
    if [[ $where != local && $where != fallback ]]; then
        if [[ ${1:-} != persist ]]; then
            where=local # never started: nothing to find anywhere
        else
            if pg_location_ok_locally; then where=local; else where=fallback; fi
            printf '%s\n' "$where" >"$PG_LOCATION_FILE"
        fi
    fi
    PG_WHERE=$where
    if [[ $where == fallback ]]; then
        PGDATA="$PG_FALLBACK_DIR/pg"
        PG_SOCKDIR="$PG_FALLBACK_DIR/run"
        PG_LOG="$PG_FALLBACK_DIR/postgres.log"
    else
        PGDATA="$STATE_DIR/pg"
        PG_SOCKDIR="$RUN_DIR/pg"
        PG_LOG="$LOG_DIR/postgres.log"
    fi
}

pg_pid() {
    local pid
    # postmaster.pid is readable by root only; the stack's copy serves other users.
    pid=$(head -n 1 -- "$PGDATA/postmaster.pid" 2>/dev/null) ||
        pid=$(head -n 1 -- "$(pid_file postgres)" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PGDATA" || return 1
    printf '%s\n' "$pid"
}

pg_init() {
    if [[ $PG_WHERE == fallback ]]; then
        msg "postgres user cannot use $STATE_DIR; cluster lives in $PG_FALLBACK_DIR"
        mkdir -p "$PG_FALLBACK_DIR"
        chown postgres:postgres "$PG_FALLBACK_DIR"
        chmod 700 "$PG_FALLBACK_DIR"
        ln -sfn -- "$PG_LOG" "$LOG_DIR/postgres.log"
    fi
    install -d -o postgres -g postgres -m 755 "$PG_SOCKDIR"
    [[ -L $PG_LOG ]] && rm -f -- "$PG_LOG" # left by an earlier fallback run
    touch -- "$PG_LOG"
    chown postgres:postgres "$PG_LOG"
    if [[ ! -f $PGDATA/PG_VERSION ]]; then
        msg "initialising PostgreSQL cluster in $PGDATA"
        install -d -o postgres -g postgres -m 700 "$PGDATA"
        as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 ||
            { log_tail "$LOG_DIR/initdb.log"; die "initdb failed (see $LOG_DIR/initdb.log)"; }
    fi
    # Our settings, re-applied on every start (the socket folder depends on the location).
    { cat -- "$PG_CONF_SNIPPET"; printf "unix_socket_directories = '%s'\n" "$PG_SOCKDIR"; } \
        >"$PGDATA/stack.conf"
    chown postgres:postgres "$PGDATA/stack.conf"
    grep -qxF "include = 'stack.conf'" "$PGDATA/postgresql.conf" ||
        printf "\n# Added by deploy/local/stack\ninclude = 'stack.conf'\n" >>"$PGDATA/postgresql.conf"
}

# psql as the superuser over the unix socket (trust).
pg_admin_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres "$@"
}

pg_app_psql() {
    PGOPTIONS='-c client_min_messages=warning' \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$PG_URL" "$@"
}

# pg_ensure_role_db [DB]: the application role, and DB (default the stack's) owned by it.
pg_ensure_role_db() {
    local db=${1:-$PG_DB}
    pg_admin_psql -d postgres -v role="$PG_USER" -v pass="$PG_PASSWORD" <<'SQL' ||
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN PASSWORD :'pass';
SQL
        die "could not create role $PG_USER"
    pg_admin_psql -d postgres -v db="$db" -v role="$PG_USER" <<'SQL' ||
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
        die "could not create database $db"
}

pg_migrate() {
    local files=() f base version applied n=0
    shopt -s nullglob
    files=("$MIGRATIONS_DIR"/[0-9][0-9][0-9]_*.sql)
    shopt -u nullglob
    ((${#files[@]} > 0)) || { msg "no migrations in $MIGRATIONS_DIR"; return 0; }
    pg_app_psql -c 'CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY, applied_at timestamptz DEFAULT now())' ||
        die "could not create schema_migrations"
    applied=$(pg_app_psql -At -c 'SELECT version FROM schema_migrations') ||
        die "could not read schema_migrations"
    # The glob sorts by the collation; migrations must run in byte order.
    mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)
    local seen=" "
    for f in "${files[@]}"; do
        base=$(basename -- "$f" .sql)
        version=${base%%_*}
        [[ $seen != *" $version "* ]] || die "two migrations share version $version in $MIGRATIONS_DIR"
        seen+="$version "
        grep -qxF -- "$version" <<<"$applied" && continue
        # The wrapper below owns the transaction; a BEGIN/COMMIT in the file would break it.
        if grep -qiE '^[[:space:]]*(begin|commit|rollback|start[[:space:]]+transaction)[[:space:]]*;' -- "$f" &&
            ! grep -qiE '\$\$|language[[:space:]]+plpgsql' -- "$f"; then
            die "migration $(basename -- "$f") contains BEGIN/COMMIT; the stack wraps each file in one transaction"
        fi
        msg "applying migration $(basename -- "$f")"
        pg_app_psql --single-transaction -f "$f" \
            -c "INSERT INTO schema_migrations (version) VALUES ('$version')" ||
            die "migration $(basename -- "$f") failed; nothing of it was applied"
        n=$((n + 1))
    done
    msg "migrations: $n applied, $((${#files[@]} - n)) already present"
    # The week partitions of the gateway's 'accepted' rows (migration 008), as the daily
    # `ingestctl maintain` of a production deployment would.
    pg_app_psql -At -c 'SELECT count(*) FROM submission_accepted_maintain()' >/dev/null ||
        die "submission_accepted_maintain() failed"
}

pg_start() {
    pg_locate persist
    local pid
    if pid=$(pg_pid); then
        msg "postgres already running (pid $pid)"
    else
        ! port_open "$PG_HOST" "$PG_PORT" ||
            die "port $PG_HOST:$PG_PORT is taken by a process this stack did not start"
        pg_init
        local log_from
        log_from=$(log_size "$PG_LOG")
        msg "starting postgres on $PG_HOST:$PG_PORT"
        as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
            { log_tail "$PG_LOG" 30 "$log_from"; die "postgres did not start (log $PG_LOG)"; }
        pid=$(pg_pid) || die "postgres started but postmaster.pid is unreadable"
    fi
    printf '%s\n' "$pid" >"$(pid_file postgres)"
    pg_ensure_role_db
    pg_migrate
}

pg_stop() {
    pg_locate
    local pid
    pid=$(pg_pid) || { rm -f -- "$(pid_file postgres)"; return 0; }
    msg "stopping postgres (pid $pid)"
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t "$PG_STOP_TIMEOUT" stop >/dev/null ||
        { log_tail "$PG_LOG"; die "postgres did not stop within ${PG_STOP_TIMEOUT}s (pid $pid)"; }
    rm -f -- "$(pid_file postgres)"
    msg "postgres stopped"
}

pg_status() {
    pg_locate
    local pid where=""
    [[ $PG_WHERE == fallback ]] && where=", data in $PGDATA (repo not reachable by the postgres user)"
    if pid=$(pg_pid); then
        printf '%-10s %-8s pid %-8s %s\n' postgres running "$pid" "$PG_HOST:$PG_PORT$where"
    else
        printf '%-10s %-8s %-12s %s\n' postgres stopped - "$PG_HOST:$PG_PORT$where"
    fi
}
