#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite (and for trying things by hand).
#
#   scripts/pg.sh start   initdb + start a cluster in a temporary directory; prints its URL on stdout
#   scripts/pg.sh url     print the URL of the running cluster
#   scripts/pg.sh stop    stop the cluster and delete its directory
#
# Environment:
#   ZHTJ_PG_DIR   directory of the cluster (default: a new /tmp/zhtj-pg-XXXXXX on start, or the
#                 one the last start made if it still runs; remembered in /tmp/zhtj-pg.last-$UID
#                 for url/stop)
#   ZHTJ_PG_PORT  port to listen on (default: 55432, or the next free one)
#   ZHTJ_PG_BIN   directory with initdb/pg_ctl (default: /usr/lib/postgresql/15/bin, or the
#                 newest /usr/lib/postgresql/*/bin, or pg_config --bindir, or PATH)
#
# As root, Debian's `postgresql` package is installed when no server binaries are found, any
# cluster its install starts (the stock one on port 5432) is stopped again, and the server runs
# as the `postgres` user via runuser. As another user the binaries must already be there.
# The server listens on 127.0.0.1 only, trusts local connections, and trades durability for
# speed (fsync off): it is for tests, never for data you want to keep.
set -euo pipefail

MARKER=.zhtj-throwaway-pg
LAST="/tmp/zhtj-pg.last-$(id -u)"
DEFAULT_PORT=55432

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
    local d
    if [ -n "${ZHTJ_PG_BIN:-}" ]; then
        [ -x "$ZHTJ_PG_BIN/initdb" ] || die "ZHTJ_PG_BIN=$ZHTJ_PG_BIN has no initdb"
        echo "$ZHTJ_PG_BIN"
        return 0
    fi
    if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        echo /usr/lib/postgresql/15/bin
        return 0
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$d" ] && [ -x "$d/initdb" ]; then
            echo "$d"
            return 0
        fi
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

install_postgresql() {
    [ "$(id -u)" = 0 ] || die "no PostgreSQL server binaries found (install Debian's 'postgresql' package, or set ZHTJ_PG_BIN)"
    command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL server binaries and no apt-get to install them"
    log "installing Debian's postgresql package (apt-get)"
    local start=$SECONDS
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 </dev/null
    log "installed postgresql in $((SECONDS - start))s"
    # The package's postinst creates the stock cluster (15/main on port 5432) and may start it.
    # We run our own cluster on our own port; leave no stray server behind.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        local ver name port status _rest
        while read -r ver name port status _rest; do
            if [ "$status" = online ]; then
                log "stopping the stock cluster $ver/$name (port $port) that the install started"
                pg_ctlcluster "$ver" "$name" stop >&2 || true
            fi
        done < <(pg_lsclusters -h 2>/dev/null || true)
    fi
}

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_busy() {
    # Something accepts connections on this port (IPv4 loopback)?
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

resolve_dir() {
    if [ -n "${ZHTJ_PG_DIR:-}" ]; then
        echo "$ZHTJ_PG_DIR"
    elif [ -f "$LAST" ]; then
        cat "$LAST"
    else
        die "no cluster known: set ZHTJ_PG_DIR or run '$0 start' first"
    fi
}

is_running() {
    local dir=$1 bin=$2
    [ -f "$dir/data/PG_VERSION" ] || return 1
    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

url_of() {
    local port
    port=$(cat "$1/port")
    echo "postgresql+asyncpg://postgres@127.0.0.1:${port}/postgres"
}

cmd_start() {
    local bin dir port tries
    if ! bin=$(find_bin); then
        install_postgresql
        bin=$(find_bin) || die "postgresql installed but initdb still not found"
    fi

    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        log "creating the system user postgres"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi

    if [ -n "${ZHTJ_PG_DIR:-}" ]; then
        dir=$ZHTJ_PG_DIR
        mkdir -p "$dir"
    elif [ -f "$LAST" ] && [ -f "$(cat "$LAST")/$MARKER" ] && is_running "$(cat "$LAST")" "$bin"; then
        # A plain second `start` reuses the cluster the first one made.
        dir=$(cat "$LAST")
    else
        dir=$(mktemp -d /tmp/zhtj-pg-XXXXXX)
    fi
    dir=$(cd "$dir" && pwd)
    touch "$dir/$MARKER"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "user postgres cannot write $dir (a parent directory is closed to it); use a directory under /tmp"
    fi
    echo "$dir" >"$LAST"

    if is_running "$dir" "$bin"; then
        log "already running in $dir"
        url_of "$dir"
        return 0
    fi

    if [ ! -f "$dir/data/PG_VERSION" ]; then
        local t0=$SECONDS
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        log "initdb took $((SECONDS - t0))s"
    fi

    port=${ZHTJ_PG_PORT:-$DEFAULT_PORT}
    tries=0
    while :; do
        tries=$((tries + 1))
        if port_busy "$port"; then
            [ -z "${ZHTJ_PG_PORT:-}" ] || die "port $port (ZHTJ_PG_PORT) is in use"
            port=$((port + 1))
            [ "$tries" -lt 50 ] || die "no free port found from $DEFAULT_PORT on"
            continue
        fi
        # The log file must be writable by the server's user.
        as_owner touch "$dir/log"
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null 2>&1; then
            break
        fi
        if [ -z "${ZHTJ_PG_PORT:-}" ] && [ "$tries" -lt 50 ] && grep -q 'could not bind\|already in use' "$dir/log" 2>/dev/null; then
            log "port $port taken meanwhile, trying the next one"
            port=$((port + 1))
            continue
        fi
        tail -n 30 "$dir/log" >&2 || true
        die "pg_ctl start failed (log: $dir/log)"
    done
    echo "$port" >"$dir/port"
    log "running in $dir on 127.0.0.1:$port (stop with: ZHTJ_PG_DIR=$dir $0 stop)"
    url_of "$dir"
}

cmd_url() {
    local dir
    dir=$(resolve_dir)
    [ -f "$dir/port" ] || die "no cluster started in $dir"
    url_of "$dir"
}

cmd_stop() {
    local dir bin
    if [ -z "${ZHTJ_PG_DIR:-}" ] && [ ! -f "$LAST" ]; then
        log "no cluster known (ZHTJ_PG_DIR unset, no $LAST): nothing to stop"
        return 0
    fi
    dir=$(resolve_dir)
    if [ ! -d "$dir" ]; then
        log "$dir is gone already"
        [ "$(cat "$LAST" 2>/dev/null || true)" != "$dir" ] || rm -f "$LAST"
        return 0
    fi
    [ -f "$dir/$MARKER" ] || die "$dir was not made by pg.sh (no $MARKER); not touching it"
    if [ -f "$dir/data/postmaster.pid" ]; then
        bin=$(find_bin) || die "no PostgreSQL binaries to stop $dir with"
        as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 stop -m fast >/dev/null 2>&1 ||
            as_owner "$bin/pg_ctl" -D "$dir/data" -w stop -m immediate >/dev/null 2>&1 ||
            log "pg_ctl stop failed (was it running?)"
    fi
    rm -rf "$dir"
    [ "$(cat "$LAST" 2>/dev/null || true)" != "$dir" ] || rm -f "$LAST"
    log "stopped and removed $dir"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    *)
        echo "usage: $0 start|stop|url   (see the comments at the top of this script)" >&2
        exit 2
        ;;
esac
