#!/usr/bin/env bash
# Entrypoint of labkit/postgres:*-offline: the official postgres image's contract, rewritten small.
#
# Why our own: the offline image is built without any image registry, from PostgreSQL binaries that
# have no psql and a Debian base without gosu. What it keeps from the official image:
#   * `docker run IMAGE -c name=value` runs `postgres -c name=value`;
#   * started as root, it prepares $PGDATA and drops to postgres (uid/gid 999) with setpriv;
#   * on first start (no $PGDATA/PG_VERSION) it runs initdb with POSTGRES_USER / POSTGRES_PASSWORD
#     (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR,
#     allows `host all all all $POSTGRES_HOST_AUTH_METHOD`, creates POSTGRES_DB and runs
#     /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz once, in name order;
#   * VAR_FILE variants of those variables are honoured;
#   * from PostgreSQL 18 the data lives in /var/lib/postgresql/<major>/docker below one volume at
#     /var/lib/postgresql, and a start is refused when something is mounted at the old
#     /var/lib/postgresql/data (data there would be silently ignored).
# What differs: with no psql, SQL runs in a single-user backend (`postgres --single`), not against a
# temporary server. Sourced *.sh scripts (and executable ones, the function is exported) get
# `docker_process_sql [--dbname DB]` that reads SQL from stdin, as in the official image. Statements
# end at ";" followed by an empty line or at the end of input; any ERROR fails the initialisation.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%F %T UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the content of the file named by VAR_FILE, or DEFAULT.
file_env() {
    local var=$1 file_var=${1}_FILE default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then die "both $var and $file_var are set (they are exclusive)"; fi
    local value=$default
    if [ -n "${!var:-}" ]; then value=${!var}; elif [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}"); fi
    export "$var"="$value"
    unset "$file_var"
}

setup_env() {
    export PGDATA=${PGDATA:-/var/lib/postgresql/data}
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
}

# As root: make the directories postgres needs, owned by it, then re-run this script as postgres.
drop_privileges() {
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 00700 "$PGDATA"
    chmod 03777 /var/run/postgresql
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then mkdir -p "$POSTGRES_INITDB_WALDIR"; chmod 700 "$POSTGRES_INITDB_WALDIR"; fi
    find "$PGDATA" ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"} \! -user postgres -exec chown postgres:postgres '{}' +
    export HOME=/var/lib/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
}

# 18+ layout: refuse a mount (or data) at the pre-18 path, as the official image does.
check_layout() {
    local old=/var/lib/postgresql/data
    [ "${PG_MAJOR:-0}" -ge 18 ] && [ "$PGDATA" != "$old" ] || return 0
    if [ -s "$old/PG_VERSION" ] || { [ -d "$old" ] && mountpoint -q "$old"; }; then
        die "PostgreSQL $PG_MAJOR keeps its data in $PGDATA, below one volume at /var/lib/postgresql,
  but something is mounted at $old (the layout before 18), whose data would be ignored.
  Mount the volume at /var/lib/postgresql instead, or upgrade the old data with pg_upgrade."
    fi
}

check_password() {
    if [ -n "$POSTGRES_PASSWORD" ] || [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then return; fi
    die "the database is uninitialized and POSTGRES_PASSWORD is not set.
  Set POSTGRES_PASSWORD (e.g. docker run -e POSTGRES_PASSWORD=...) or, for a throwaway lab only,
  POSTGRES_HOST_AUTH_METHOD=trust."
}

init_cluster() {
    log "initialising $PGDATA"
    local args=(--username="$POSTGRES_USER")
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then args+=(--waldir="$POSTGRES_INITDB_WALDIR"); fi
    # POSTGRES_INITDB_ARGS is a shell-quoted string, as in the official image. The password goes
    # through a pipe, never a file or the command line.
    if [ -n "$POSTGRES_PASSWORD" ]; then
        eval 'initdb "${args[@]}" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"
    else
        eval 'initdb "${args[@]}" '"$POSTGRES_INITDB_ARGS"
    fi
    local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
}

# SQL from stdin -> single-user backend. Fails (after running the rest) if any statement failed,
# which is what psql's ON_ERROR_STOP gives the official image's init scripts.
docker_process_sql() {
    local db=$POSTGRES_DB out status=0
    case "${1:-}" in
        --dbname|-d) db=$2 ;;
        --dbname=*) db=${1#--dbname=} ;;
    esac
    out=$(postgres --single -j -D "$PGDATA" -c log_checkpoints=off -c log_line_prefix= "$db" 2>&1 >/dev/null) || status=$?
    if [ -n "$out" ]; then printf '%s\n' "$out" >&2; fi
    if [ "$status" != 0 ] || grep -qE '^(ERROR|FATAL|PANIC):' <<<"$out"; then
        log "error: SQL failed in database $db (messages above)"
        return 1
    fi
}
export -f docker_process_sql log

create_database() {
    [ "$POSTGRES_DB" = postgres ] && return
    log "creating database $POSTGRES_DB"
    printf 'CREATE DATABASE "%s";\n' "${POSTGRES_DB//\"/\"\"}" | docker_process_sql --dbname postgres
}

run_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                # shellcheck source=/dev/null
                if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
            *.sql) log "running $f"; docker_process_sql <"$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | docker_process_sql ;;
            */\*) ;;  # empty directory
            *) log "ignoring $f" ;;
        esac
    done
}

main() {
    if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
    setup_env
    if [ "$1" = postgres ]; then check_layout; fi
    if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then drop_privileges "$@"; fi
    if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
        check_password
        init_cluster
        create_database
        run_init_files
        log "PostgreSQL init process complete; ready for start up."
    fi
    exec "$@"
}

main "$@"
