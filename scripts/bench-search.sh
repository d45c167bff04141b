#!/usr/bin/env bash
# make bench-search: message search (issue 18) on this machine; writes the section "Search
# (issue 18)" of BENCHMARKS.md (between its markers; a full `make bench` keeps it).
#
# 1. Latency: for each storage mode, `searchbench generate` writes BENCH_SEARCH_MESSAGES messages
#    over BENCH_SEARCH_ROOMS groups straight into a fresh database (the searcher a member of
#    BENCH_SEARCH_MEMBER_ROOMS of them), the server starts on it and rebuilds its index from SQL,
#    and `searchbench query` sends BENCH_SEARCH_QUERIES one-word searches in relevance order, then
#    as many with sort=newest, one after another, and records their latency.
#      sqlite   embedded mode: SQLite, no Redis
#      mariadb  MariaDB + Redis (the Syncer and the buffer in place, as in production)
# 2. The cost of indexing on the write path: loadgen's closed-loop dm run of `make bench-dm`
#    (BENCH_SEARCH_DM_PAIRS pairs, 4 in flight per connection; server pinned to CPU 0, generator
#    to CPU 1) against the same build with search.enabled true and false, alternately,
#    BENCH_SEARCH_DM_RUNS times each, in embedded mode and with MariaDB + Redis.
#
# Starts Redis and MariaDB (the same flags as scripts/bench.sh) on free loopback ports in a temp
# dir and stops everything at the end. Loopback only; every load is bounded. Numbers are
# recorded, never asserted. Knobs (environment):
#   BENCH_SEARCH_MESSAGES=1000000  BENCH_SEARCH_ROOMS=1000  BENCH_SEARCH_MEMBER_ROOMS=50
#   BENCH_SEARCH_QUERIES=500  BENCH_SEARCH_MODES="sqlite mariadb"
#   BENCH_SEARCH_DM=1 (0: skip part 2)  BENCH_SEARCH_DM_PAIRS=500  BENCH_SEARCH_DM_RUNS=3
#   BENCH_OUT=BENCHMARKS.md  BENCH_KEEP=1 (keep the temp dir and its logs)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/sbin:/sbin:$PATH

MESSAGES=${BENCH_SEARCH_MESSAGES:-1000000}
ROOMS=${BENCH_SEARCH_ROOMS:-1000}
MEMBER_ROOMS=${BENCH_SEARCH_MEMBER_ROOMS:-50}
QUERIES=${BENCH_SEARCH_QUERIES:-500}
MODES=${BENCH_SEARCH_MODES:-"sqlite mariadb"}
DM=${BENCH_SEARCH_DM:-1}
DM_PAIRS=${BENCH_SEARCH_DM_PAIRS:-500}
DM_RUNS=${BENCH_SEARCH_DM_RUNS:-3}
OUT_MD=${BENCH_OUT:-BENCHMARKS.md}
SETTINGS="messages=$MESSAGES rooms=$ROOMS member_rooms=$MEMBER_ROOMS queries=$QUERIES modes=[$MODES] dm=$DM dm_pairs=$DM_PAIRS dm_runs=$DM_RUNS"

START=$(date +%s)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
log() { printf '\n== [%ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

scripts/setup.sh bench
log "release build (chat-server, bench)"
cargo build --release -p chat-server -p bench -p bench-server
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
svc_begin bench-search "${BENCH_KEEP:-}"
create_databases search dm

# --- this server -----------------------------------------------------------------------------------
# start_chat NAME DB_URL REDIS_URL SEARCH_ENABLED [PREFIX...]: starts it, sets CHAT_PID and CHAT_PORT.
start_chat() {
  local name=$1 db=$2 redis=$3 search=$4; shift 4
  CHAT_PORT=$(port)
  env RUST_LOG=warn CHAT__LOG__FILTER=warn \
    CHAT__SERVER__BIND=127.0.0.1:$CHAT_PORT CHAT__DATABASE__URL="$db" CHAT__REDIS__URL="$redis" \
    CHAT__REDIS__PREFIX="$name" CHAT__MEDIA__DIR="$WORK/$name/media" CHAT__SEARCH__ENABLED="$search" \
    CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 \
    CHAT__LIMITS__SEARCH_PER_USER__BURST=1000000 CHAT__LIMITS__SEARCH_PER_USER__PERIOD_MS=1 \
    CHAT__LIMITS__EXEMPT_ADDRESSES=127.0.0.1,::1 \
    "$@" "$BIN/chat-server" >>"$WORK/$name.log" 2>&1 &
  CHAT_PID=$!
  svc_track "$CHAT_PID"
  wait_for 120 curl -sf "http://127.0.0.1:$CHAT_PORT/healthz"
}

stop_chat() {
  stop_pid "$CHAT_PID"
  svc_forget "$CHAT_PID"
}

metric_is() { # $1: name, $2: value
  curl -sf "http://127.0.0.1:$CHAT_PORT/metrics" | grep -qx "$1 $2"
}

# --- 1. search latency -----------------------------------------------------------------------------
for mode in $MODES; do
  case $mode in
    sqlite) db="sqlite://$WORK/search.db?mode=rwc"; redis="" ;;
    mariadb) db="$MYSQL/search"; redis=$REDIS_URL ;;
    *) echo "bench-search: unknown mode $mode (sqlite, mariadb)" >&2; exit 2 ;;
  esac
  log "[$mode] writing $MESSAGES messages over $ROOMS rooms"
  "$BIN/searchbench" generate --url "$db" --messages "$MESSAGES" --rooms "$ROOMS" \
    --member-rooms "$MEMBER_ROOMS" --out "$WORK/setup-$mode.json"
  log "[$mode] starting the server (it builds its index from SQL)"
  start_chat "search-$mode" "$db" "$redis" true
  log "[$mode] $QUERIES one-word searches per order"
  "$BIN/searchbench" query --http "http://127.0.0.1:$CHAT_PORT" --setup "$WORK/setup-$mode.json" \
    --queries "$QUERIES" --mode "$mode" --out "$RES/$mode.json" || true
  du -sb "$WORK/search-$mode/search" 2>/dev/null | cut -f1 >"$RES/$mode-index-bytes" || true
  stop_chat
done

# --- 2. the dm rate with and without indexing -------------------------------------------------------
if [ "$DM" != 0 ]; then
  for mode in embedded redis; do
    case $mode in
      embedded) db="sqlite://$WORK/dm.db?mode=rwc"; redis="" ;;
      redis) db="$MYSQL/dm"; redis=$REDIS_URL ;;
    esac
    log "[dm $mode] registering $(( 2 * DM_PAIRS )) users"
    start_chat "dm-$mode" "$db" "$redis" true
    "$BIN/loadgen" setup --http "http://127.0.0.1:$CHAT_PORT" --users $(( 2 * DM_PAIRS )) --idle 0 \
      --out "$WORK/setup-dm-$mode.json"
    stop_chat
    for i in $(seq 1 "$DM_RUNS"); do
      for on in on off; do
        enabled=true; [ $on = off ] && enabled=false
        log "[dm $mode] run $i, search $on: closed loop, $DM_PAIRS pairs"
        start_chat "dm-$mode" "$db" "$redis" $enabled taskset -c 0
        # An index that missed the previous run catches up first; measure after that.
        [ $on = on ] && { wait_for 300 metric_is chat_search_catching_up 0 || true; }
        taskset -c 1 "$BIN/loadgen" dm --proto chat --host "127.0.0.1:$CHAT_PORT" \
          --setup "$WORK/setup-dm-$mode.json" --server-pid "$CHAT_PID" --pairs "$DM_PAIRS" --window 4 \
          --secs 4 --warmup-secs 1.5 --max-secs 150 --out "$RES/dm-$mode-$on-$i.json" || true
        [ $mode = redis ] && { wait_for 60 metric_is chat_write_buffer_depth 0 || true; }
        stop_chat
      done
    done
  done
fi

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cat >"$RES/meta.json" <<EOF
{"started": "$STARTED", "commit": "$COMMIT", "load_start": "$LOAD_START", "load_end": "$LOAD_END",
 "settings": "$SETTINGS", "secs": $(( $(date +%s) - START ))}
EOF
"$BIN/searchbench" report --results "$RES" --out "$OUT_MD"
log "done: $OUT_MD (section \"Search (issue 18)\")"
