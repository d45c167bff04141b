# Redis and MariaDB for the benchmark and chaos scripts, on free loopback ports in a temp dir
# (sourced by scripts/bench.sh, scripts/bench-search.sh and scripts/chaos.sh). The flags are the
# same as tests/integration/support/services.rs: Redis with appendonly yes and appendfsync always,
# MariaDB with a small buffer pool and no binary log.
#
# The sourcing script sets BIN (the release binaries: loadgen free-port hands out ports) and a
# log function, then calls `svc_begin NAME KEEP`, which makes the temp dir WORK (removed at exit
# unless KEEP is non-empty) with WORK/results as RES, installs the cleanup and starts Redis and
# MariaDB.
#
# Every process started here (and every one the script adds with svc_track) is stopped by
# svc_cleanup, newest first.

PIDS=()

# Remembers a process for svc_cleanup.
svc_track() { PIDS+=("$1"); }

# Forgets a process (it was stopped or killed on purpose).
svc_forget() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

svc_cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -CONT "${PIDS[$i]}" 2>/dev/null || true # a frozen process cannot stop
    stop_pid "${PIDS[$i]}"
  done
  if [ -n "${SVC_KEEP:-}" ]; then echo "$SVC_NAME: kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# Runs "$@" until it succeeds, at most $1 seconds.
wait_for() {
  local secs=$1; shift
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$SVC_NAME: timed out waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

port() { "$BIN/loadgen" free-port; }

# Starts redis-server; sets REDIS_PORT, REDIS_PID, REDIS_URL. A second call after the process
# died (or was killed) starts it again on the same port from the same AOF, and returns once it
# has loaded it.
start_redis() {
  REDIS_PORT=${REDIS_PORT:-$(port)}
  mkdir -p "$WORK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
    --appendfsync always --save '' --maxmemory-policy noeviction --daemonize no \
    >>"$WORK/redis/redis.log" 2>&1 &
  REDIS_PID=$!
  svc_track "$REDIS_PID"
  # Until PONG: while Redis loads its AOF, ping answers LOADING (and redis-cli exits 0).
  wait_for 60 bash -c "[ \"\$(redis-cli -p $REDIS_PORT ping)\" = PONG ]"
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT
}

# Starts mariadbd in a fresh data dir with a user chat/chat allowed everything; sets DB_PORT,
# DBDIR, MARIADB_PID, SQL (the mariadb client as root, an array) and MYSQL (URL without a
# database). Then: create_databases NAME...
start_mariadb() {
  DB_PORT=$(port)
  DBDIR=$WORK/mariadb
  mkdir -p "$DBDIR/tmp"
  local user_arg=()
  [ "$(id -u)" -eq 0 ] && user_arg=(--user=root)
  mariadb-install-db --no-defaults --datadir="$DBDIR/data" "${user_arg[@]}" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve --tmpdir="$DBDIR/tmp" \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M >"$DBDIR/install.log" 2>&1
  mariadbd --no-defaults --datadir="$DBDIR/data" --socket="$DBDIR/mysqld.sock" --port="$DB_PORT" \
    --bind-address=127.0.0.1 "${user_arg[@]}" --pid-file="$DBDIR/pid" --tmpdir="$DBDIR/tmp" \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --skip-log-bin --performance-schema=OFF --max-connections=500 --max-allowed-packet=64M \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --innodb-buffer-pool-load-at-startup=OFF --innodb-buffer-pool-dump-at-shutdown=OFF \
    --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=OFF \
    </dev/null >/dev/null 2>"$DBDIR/err.log" &
  MARIADB_PID=$!
  svc_track "$MARIADB_PID"
  SQL=(mariadb --no-defaults --user=root --socket="$DBDIR/mysqld.sock" --default-character-set=utf8mb4)
  wait_for 60 "${SQL[@]}" -e 'SELECT 1'
  "${SQL[@]}" -e "CREATE USER 'chat'@'%' IDENTIFIED BY 'chat'; GRANT ALL ON *.* TO 'chat'@'%';"
  MYSQL=mysql://chat:chat@127.0.0.1:$DB_PORT
}

create_databases() {
  local db
  for db in "$@"; do
    "${SQL[@]}" -e "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  done
}

# svc_begin NAME KEEP: see the top of this file.
svc_begin() {
  SVC_NAME=$1
  SVC_KEEP=$2
  WORK=$(mktemp -d "/tmp/chat-$SVC_NAME.XXXXXX")
  RES=$WORK/results
  mkdir -p "$RES"
  trap svc_cleanup EXIT
  trap 'exit 130' INT TERM
  log "starting redis-server and mariadbd in $WORK"
  start_redis
  start_mariadb
}
