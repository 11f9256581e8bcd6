#!/usr/bin/env bash
# Adapted from /work/shared/peers/postgres.sh (the project carries its own peer scripts).
# Start a real PostgreSQL 15 (Debian package: postgresql-15) on 127.0.0.1:<port>: its own
# cluster in <dir>/data (initdb as the postgres user when started as root, else as the user who
# starts it: PostgreSQL refuses only root), its unix socket in <dir>/run, its log
# in <dir>/postgres.log. Trust auth for local and 127.0.0.1 connections (tests only: no
# passwords). A <dir> that already holds a cluster is started again as it is (a restart on
# the same port keeps every database).
# Usage: postgres.sh start <port> [dir]       -> prints the postmaster PID (last line)
#        postgres.sh createdb <port> <name>   -> role <name> (LOGIN) owning database <name>
#        postgres.sh psql <port> <db> [psql args...]   (as role postgres, over TCP)
#        postgres.sh stop <pid>               (fast shutdown: SIGINT, SIGKILL after 15 s)
# Install: apt-get install -y --no-install-recommends postgresql-15
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
# As root the server runs as user postgres; started by another user, as that user.
if [ "$(id -u)" = 0 ]; then ASPG=(setpriv --reuid=postgres --regid=postgres --init-groups); else ASPG=(); fi
owned() { if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$@"; fi; }
cmd=${1:?start|createdb|psql|stop}
case "$cmd" in
start)
  port=${2:?port}
  dir=${3:-$(mktemp -d /tmp/peer-postgres.XXXXXX)}
  [ -x "$BIN/postgres" ] || { echo "no $BIN/postgres: apt-get install -y postgresql-15" >&2; exit 1; }
  mkdir -p "$dir/run"; chmod 755 "$dir"
  owned "$dir/run"
  if ! "${ASPG[@]}" test -x "$dir"; then
    echo "user postgres cannot enter $dir: every parent dir must be world-executable" >&2; exit 1; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data"; owned "$dir/data"; chmod 700 "$dir/data"
    # -N: no fsync during initdb (a throwaway cluster); trust: no passwords, loopback only below
    "${ASPG[@]}" "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C -N \
      > "$dir/initdb.log" 2>&1 || { echo "initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  fi
  touch "$dir/postgres.log"; owned "$dir/postgres.log"
  # setpriv execs postgres: $! is the postmaster itself
  nohup "${ASPG[@]}" "$BIN/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
      -c unix_socket_directories="$dir/run" -c logging_collector=off \
      -c shared_buffers=32MB -c max_connections=100 \
    >> "$dir/postgres.log" 2>&1 &
  pid=$!
  ok=
  for _ in $(seq 1 300); do
    if ! kill -0 $pid 2>/dev/null; then echo "postgres died; see $dir/postgres.log" >&2; tail -20 "$dir/postgres.log" >&2; exit 1; fi
    # ready, and it is ours (not another server already on that port)
    if [ "$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)" = "$pid" ] &&
       "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "postgres not ready after 30 s; see $dir/postgres.log" >&2; kill -9 $pid 2>/dev/null; exit 1; }
  echo "dir=$dir log=$dir/postgres.log url=postgres://postgres@127.0.0.1:$port/postgres" >&2
  echo "$pid"
  ;;
createdb)
  port=${2:?port}; name=${3:?name}
  "$BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE \"$name\" LOGIN" -c "CREATE DATABASE \"$name\" OWNER \"$name\""
  ;;
psql)
  port=${2:?port}; db=${3:?db}; shift 3
  exec "$BIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
  ;;
stop)
  pid=${2:?pid}
  kill -INT "$pid" 2>/dev/null || true      # fast shutdown: clients cut, a clean checkpoint
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: $0 start <port> [dir] | createdb <port> <name> | psql <port> <db> [args] | stop <pid>" >&2; exit 2;;
esac
