#!/usr/bin/env bash
# make chaos (issue 19): faults under full load. Builds the release binaries, starts Redis
# (appendonly yes, appendfsync always) and MariaDB on free loopback ports in a temp dir
# (scripts/lib/services.sh, shared with the benchmarks), registers the dm pairs once, and runs
# four scenarios, each with a closed-loop dm load from every member of CHAOS_PAIRS dms
# (`chaos run`, the bench package), the fault injected here while the load runs:
#
#   kill9    kill -9 of the server, restarted on the same port (server on CPU 0, load on CPU 1)
#   redis    kill -9 of redis-server, restarted on the same port from its AOF (pinned likewise)
#   freeze   SIGSTOP to mariadbd for CHAOS_FREEZE_SECS s, then SIGCONT (pinned likewise)
#   cluster  three nodes in cluster mode (unpinned), clients spread over them; kill -9 of node 3,
#            whose clients reconnect to node 1
#
# After each: every client waits for its last acks and syncs, the Syncer drains, and `chaos run`
# checks MariaDB and the clients' view and compares the servers' own memory (RssAnon +
# RssShmem; VmRSS and RssFile, the search index's mmapped files, are reported beside it) with
# its level under load before the fault; it prints PASS or FAIL with the figures. CHAOS.md gets
# the figures of the run. Exit status 1 when any scenario failed. Knobs (environment):
#   CHAOS_SCENARIOS="cluster kill9 redis freeze" (cluster first: fresh nodes build their search
#   index from all of MariaDB before they answer quickly, which takes long once it is full)
#   CHAOS_PAIRS=500  CHAOS_WINDOW=4
#   CHAOS_FAULTS=2 (injections per scenario, cluster: 1; the second tells a leak from retention)
#   CHAOS_WARMUP=20 (s of load before the "before" reading: a younger process still grows)
#   CHAOS_MEASURE=3 (s of load measured before the fault)  CHAOS_AFTER=5 (s of load after recovery;
#   kill9's last round: CHAOS_WARMUP, since its new process is the one compared)  CHAOS_FREEZE_SECS=10  CHAOS_RSS_LIMIT=1.2
#   CHAOS_OUT=CHAOS.md  CHAOS_KEEP=1 (keep the temp dir and its logs)
#   CHAOS_SERVER_ENV="CHAT__X__Y=v ..." (extra settings for every server, e.g. to compare a run
#   with CHAT__SEARCH__ENABLED=false)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/sbin:/sbin:$PATH

SCENARIOS=${CHAOS_SCENARIOS:-"cluster kill9 redis freeze"}
PAIRS=${CHAOS_PAIRS:-500}
WINDOW=${CHAOS_WINDOW:-4}
WARMUP=${CHAOS_WARMUP:-20}
MEASURE=${CHAOS_MEASURE:-3}
AFTER=${CHAOS_AFTER:-5}
FREEZE_SECS=${CHAOS_FREEZE_SECS:-10}
FAULTS=${CHAOS_FAULTS:-2}
RSS_LIMIT=${CHAOS_RSS_LIMIT:-1.2}
OUT_MD=${CHAOS_OUT:-CHAOS.md}
for s in $SCENARIOS; do
  case $s in kill9|redis|freeze|cluster) ;; *) echo "chaos: unknown scenario '$s'" >&2; exit 2 ;; esac
done

START=$(date +%s)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
log() { printf '\n== [%ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

scripts/setup.sh chaos
log "release build (chat-server, bench)"
cargo build --release -p chat-server -p bench
BUILD_SECS=$(( $(date +%s) - START ))
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
svc_begin chaos "${CHAOS_KEEP:-}"
STATE=$WORK/state
mkdir -p "$STATE"
# The cluster gets its own database (and Redis prefix): two prefixes over one database would
# leave seq counters under one prefix behind rows the other wrote (the last run lost acks so).
create_databases chat chaoscluster
DB_URL=$MYSQL/chat

declare -A SPID SPORT
# start_chat NAME [CPU prefix...]: a chat server on SPORT[NAME] (a free port the first time);
# names node1, node2, ... run in cluster mode.
start_chat() {
  local name=$1; shift
  local port=${SPORT[$name]:-$(port)} cluster=() db_url=$DB_URL
  case $name in
    node*) db_url=$MYSQL/chaoscluster
           cluster=(CHAT__CLUSTER__ENABLED=true CHAT__CLUSTER__NODE_ID="$name" CHAT__REDIS__PREFIX=chaoscluster
                    CHAT__MEDIA__URL_SECRET=chaos-cluster-secret) ;;
  esac
  env RUST_LOG=warn CHAT__LOG__FILTER=warn CHAT__SERVER__BIND="127.0.0.1:$port" \
    CHAT__DATABASE__URL="$db_url" CHAT__REDIS__URL="$REDIS_URL" CHAT__MEDIA__DIR="$WORK/media" \
    CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 \
    CHAT__LIMITS__EXEMPT_ADDRESSES=127.0.0.1,::1 CHAT__WS__MAX_SESSIONS_PER_USER=100000 \
    "${cluster[@]}" ${CHAOS_SERVER_ENV:-} "$@" "$BIN/chat-server" >>"$WORK/$name.log" 2>&1 &
  SPID[$name]=$!
  SPORT[$name]=$port
  svc_track "$!"
  wait_for 60 curl -sf "http://127.0.0.1:$port/healthz"
  # The load starts once the search index has caught up from SQL (it competes for the CPU); a
  # server restarted under load (kill9) serves at once, as in production, catch-up or not.
  if [ "${CATCHUP_WAIT:-1}" = 1 ]; then
    wait_for 300 bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -qx 'chat_search_catching_up 0'" || true
  fi
}

stop_chat() {
  stop_pid "${SPID[$1]}"
  svc_forget "${SPID[$1]}"
}

kill9_chat() {
  kill -9 "${SPID[$1]}"
  wait "${SPID[$1]}" 2>/dev/null || true
  svc_forget "${SPID[$1]}"
}

drained() { # $1: port
  wait_for 60 bash -c "curl -sf http://127.0.0.1:$1/metrics | grep -qx 'chat_write_buffer_depth 0'"
}

# --- users: 2 x PAIRS, paired in dms ----------------------------------------------------------------
log "registering $(( 2 * PAIRS )) users in $PAIRS dms (argon2: slow on purpose)"
start_chat chat
"$BIN/loadgen" setup --http "http://127.0.0.1:${SPORT[chat]}" --users $(( 2 * PAIRS )) --idle 0 \
  --out "$WORK/setup.json"
drained "${SPORT[chat]}"
# Argon2's 19 MiB per hash stays in the allocator's arenas: the scenarios start a fresh process.
stop_chat chat
SETUP_SECS=$(( $(date +%s) - START - BUILD_SECS ))

# --- the faults (each runs while the load runs; the load waits for STATE/recovered) --------------
fault_kill9() {
  kill9_chat chat
  CATCHUP_WAIT=0 start_chat chat taskset -c 0
  echo "${SPID[chat]}" >"$STATE/pids"
}

fault_redis() {
  kill -9 "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
  svc_forget "$REDIS_PID"
  start_redis
}

fault_freeze() {
  kill -STOP "$MARIADB_PID"
  sleep "$FREEZE_SECS"
  kill -CONT "$MARIADB_PID"
}

fault_cluster() {
  kill9_chat node3
  echo "${SPID[node1]} ${SPID[node2]}" >"$STATE/pids"
}

STATUS=0
N=0
SETUP_FILE=$WORK/setup.json
DATABASE=chat
# scenario NAME FAULTS FAULT_WORDS RSS_NOTE HOSTS LOAD_PREFIX...: runs `chaos run` in the
# background, injects fault_NAME each time it is ready (FAULTS times), and waits for its verdict.
# RUN_EXTRA: more arguments for this scenario's `chaos run` (empty unless set around a call).
RUN_EXTRA=()

scenario() {
  local name=$1 faults=$2 fault=$3 note=$4 hosts=$5; shift 5
  N=$(( N + 1 ))
  rm -f "$STATE/ready" "$STATE/recovered"
  log "[$name] $fault"
  "$@" "$BIN/chaos" run --scenario "$name" --fault "$fault" --rss-note "$note" --hosts "$hosts" \
    --setup "$SETUP_FILE" --pairs "$PAIRS" --window "$WINDOW" --warmup-secs "$WARMUP" \
    --measure-secs "$MEASURE" --after-secs "$AFTER" --faults "$faults" --rss-limit "$RSS_LIMIT" \
    --state-dir "$STATE" --pids-file "$STATE/pids" \
    --mariadb-socket "$DBDIR/mysqld.sock" --database "$DATABASE" --out "$RES/$N-$name.json" \
    "${RUN_EXTRA[@]}" &
  local load=$!
  # Once per `ready` (the load asks for the fault --faults times).
  while kill -0 "$load" 2>/dev/null; do
    if [ -f "$STATE/ready" ]; then
      rm -f "$STATE/ready"
      "fault_$name"
      touch "$STATE/recovered"
    fi
    sleep 0.05
  done
  wait "$load" || { STATUS=1; log "[$name] FAILED"; }
}

for s in $SCENARIOS; do
  case $s in
    kill9)
      start_chat chat taskset -c 0
      echo "${SPID[chat]}" >"$STATE/pids"
      RUN_EXTRA=(--rss-from-last-fault)
      scenario kill9 "$FAULTS" "kill -9 of the server, restarted on the same port" \
        "memory of the process started after the last kill: under load after that kill vs after recovery and drain" \
        "127.0.0.1:${SPORT[chat]}" taskset -c 1
      RUN_EXTRA=()
      stop_chat chat
      ;;
    redis)
      start_chat chat taskset -c 0
      echo "${SPID[chat]}" >"$STATE/pids"
      scenario redis "$FAULTS" "kill -9 of redis-server, restarted from its AOF on the same port" \
        "memory of the server under load before the first fault vs after the last recovery and drain" \
        "127.0.0.1:${SPORT[chat]}" taskset -c 1
      stop_chat chat
      ;;
    freeze)
      start_chat chat taskset -c 0
      echo "${SPID[chat]}" >"$STATE/pids"
      scenario freeze "$FAULTS" "SIGSTOP to mariadbd for ${FREEZE_SECS} s, then SIGCONT" \
        "memory of the server under load before the first freeze vs after the last recovery and drain" \
        "127.0.0.1:${SPORT[chat]}" taskset -c 1
      stop_chat chat
      ;;
    cluster)
      for i in 1 2 3; do start_chat "node$i"; done
      # Its own users and dms, registered through node 1 (Argon2's memory is then node 1's,
      # before the load starts).
      "$BIN/loadgen" setup --http "http://127.0.0.1:${SPORT[node1]}" --users $(( 2 * PAIRS )) --idle 0 \
        --out "$WORK/setup-cluster.json"
      drained "${SPORT[node1]}"
      SETUP_FILE=$WORK/setup-cluster.json DATABASE=chaoscluster
      echo "${SPID[node1]} ${SPID[node2]} ${SPID[node3]}" >"$STATE/pids"
      scenario cluster 1 "3 nodes in cluster mode; kill -9 of node 3, its clients move to node 1" \
        "sum of the memory of nodes 1 and 2 after recovery and drain (they now hold node 3's clients too) vs of all three nodes under load before the kill" \
        "127.0.0.1:${SPORT[node1]},127.0.0.1:${SPORT[node2]},127.0.0.1:${SPORT[node3]}"
      stop_chat node2
      stop_chat node1
      SETUP_FILE=$WORK/setup.json DATABASE=chat
      ;;
  esac
done

END=$(date +%s)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src bench scripts 2>/dev/null || COMMIT="$COMMIT (+ uncommitted changes)"
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
cat >"$RES/meta.json" <<EOF
{"started": "$STARTED", "commit": "$COMMIT",
 "duration": "$(( (END - START) / 60 )) min $(( (END - START) % 60 )) s (release build $BUILD_SECS s, registering the users $SETUP_SECS s)",
 "machine": "$(nproc) cores ($CPU), load $(cut -d' ' -f1-3 /proc/loadavg) at the end",
 "settings": "scenarios=[$SCENARIOS] faults=$FAULTS (cluster 1) pairs=$PAIRS (clients $(( 2 * PAIRS ))) window=$WINDOW warmup=${WARMUP}s measure=${MEASURE}s after=${AFTER}s freeze=${FREEZE_SECS}s rss_limit=$RSS_LIMIT"}
EOF
"$BIN/chaos" report --results "$RES" --out "$OUT_MD"
log "done in $(( END - START )) s: $OUT_MD; $([ $STATUS = 0 ] && echo 'every scenario PASSED' || echo 'a scenario FAILED')"
exit $STATUS
