# shellcheck shell=bash
# Sourced by the benchmark scripts (bench-scaleout.sh, bench-soak.sh): a temp
# dir cleaned up at exit, background processes stopped at exit, free loopback
# ports, the address a kiln process listens on, and private Redis and
# PostgreSQL instances in the temp dir (never the machine's own services).

# Sets TMP (a temp dir, world-readable: PostgreSQL runs as `postgres` and must
# reach its data dir), PIDS (processes to stop at exit) and PG_BIN, and arms
# the EXIT trap that stops them and removes TMP.
bench_init() {
  TMP=$(mktemp -d)
  chmod 755 "$TMP"
  PIDS=()
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do bench_stop "$p" 30; done
  [ -f "$TMP/pg/data/postmaster.pid" ] &&
    as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}

# Runs a command as the `postgres` user when root (initdb refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_stop PID [SECONDS]: SIGTERM, then SIGKILL if it still runs after
# SECONDS (default 40: a kiln process gives running jobs 30 s to finish).
bench_stop() {
  local pid=$1 limit=${2:-40} i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Waits (at most 60 s) for "listening on http://ADDR" in a log; prints ADDR.
addr_of() {
  local a
  for _ in $(seq 600); do
    a=$(grep -o 'listening on http://[0-9.:]*' "$1" | head -1 | sed 's|listening on http://||') || true
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.1
  done
  echo "no 'listening on' in $1 within 60 s:" >&2
  cat "$1" >&2
  exit 1
}

# Starts Redis (AOF, appendfsync always) and PostgreSQL on free ports in
# $TMP; sets RPORT and PPORT and exports KILN_QUEUE and KILN_STORE.
start_redis_pg() {
  command -v redis-server >/dev/null && [ -x "$PG_BIN/initdb" ] || {
    echo "needs redis-server and PostgreSQL (apt-get install redis-server postgresql)" >&2
    exit 2
  }
  RPORT=$(free_port)
  PPORT=$(free_port)
  mkdir -p "$TMP/redis" "$TMP/pg"
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" --appendonly yes --appendfsync always \
    --save '' --daemonize no >"$TMP/redis.log" 2>&1 &
  PIDS+=($!)
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$TMP/pg"
  as_pg "$PG_BIN/initdb" -D "$TMP/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/pg.log" -w -t 60 \
    -o "-p $PPORT -k $TMP/pg -c listen_addresses=127.0.0.1" start >/dev/null
  for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$RPORT" ping >/dev/null || { cat "$TMP/redis.log" >&2; exit 1; }
  export KILN_QUEUE="redis://127.0.0.1:$RPORT/0"
  export KILN_STORE="postgres://postgres@127.0.0.1:$PPORT/postgres"
}
