#!/usr/bin/env bash
# make bench: a quick side-by-side benchmark of this server, the node + socket.io reference peer
# and a bare tokio-tungstenite ceiling, on this machine, in one run; rewrites BENCHMARKS.md.
#
# Starts everything it needs on free loopback ports in a temp dir (Redis with AOF fsync always,
# MariaDB, the peer after `npm ci` in a copy of ../shared/peers/socketio-chat) and stops it all
# at the end. Every load is bounded in count and time (loadgen --max-secs), loopback only.
# Numbers are printed and recorded, never asserted. Knobs (environment):
#
#   BENCH_MODES="pinned unpinned"   pinned: server taskset -c 0, generator taskset -c 1
#   BENCH_IDLE_MODES=pinned         modes that run the idle ramp (memory does not depend on pinning)
#   BENCH_IDLE_STEPS=2000,10000,19500
#   BENCH_MEMBERS=1000  BENCH_START_RATE=25 (socket.io peer)  BENCH_FAST_START_RATE=200 (this
#   server and the ceiling)  BENCH_STEP_SECS=2  BENCH_LAT_SECS=3  BENCH_UNPINNED_LAT_SECS=2
#   BENCH_INSERT_ROWS=20000
#   BENCH_OUT=BENCHMARKS.md  BENCH_KEEP=1 (keep the temp dir and its logs)
#   BENCH_SERVER_ENV="CHAT__X__Y=v ..."  extra settings for every chat-server process
#   BENCH_PERF=DIR                  also profile this server (perf record) during its fan-out and dm
#                                   runs and write flat perf reports to DIR (linux-perf)
#   BENCH_DM=0                      leave the everyday-path part (below) out of the full run
#   BENCH_BIN=DIR                   run the release binaries already in DIR (chat-server, loadgen,
#                                   ceiling, ...) instead of building them: for a before/after
#                                   comparison of two commits on the same machine state (run the
#                                   script from a checkout of the commit the binaries come from)
#
# The everyday path (issue 17), always pinned (server taskset -c 0, generator taskset -c 1), on
# fresh processes of this server (Redis + MariaDB) and of the socket.io peer, after the modes
# above; results in the section "Everyday path (issue 17)" of BENCHMARKS.md:
#   - dms: BENCH_DM_PAIRS pairs, both members connected and sending in turn, open loop at each of
#     BENCH_DM_RATES (total msg/s) after BENCH_DM_WARMUP s of warm-up, BENCH_DM_SECS s of sending,
#     peer then this server; then the closed loop (BENCH_DM_WINDOW sends in flight per
#     connection, BENCH_DM_MAX_SECS s) for both; this server's sync lag and drain from /metrics;
#   - the reconnect storm on this server (loadgen storm): BENCH_STORM_USERS users of the fan-out
#     room (paired in dms) x BENCH_STORM_DEVICES sockets, all opened at once, while one more
#     socket sends BENCH_STORM_ROOM_RATE msg/s into the room and every socket, once in,
#     BENCH_STORM_DM_RATE msg/s into its dm, for BENCH_STORM_SECS s from the start of the storm;
#   - embedded mode: a second chat-server process on SQLite ($WORK/embedded.db), no Redis, its own
#     users (registered through it), dms at BENCH_EMBEDDED_RATE msg/s and the closed loop.
#   BENCH_DM_PAIRS=500  BENCH_DM_RATES="1000 5000"  BENCH_DM_WARMUP=5  BENCH_DM_SECS=4
#   BENCH_DM_MAX_SECS=4  BENCH_DM_MAX_WARMUP=1.5 (closed loop)  BENCH_DM_WINDOW=4
#   BENCH_DM_DRAIN_SECS=30 (longest wait for the Redis buffer to drain after a run of this server)
#   BENCH_STORM_USERS=$BENCH_MEMBERS  BENCH_STORM_DEVICES=2  BENCH_STORM_ROOM_RATE=20
#   BENCH_STORM_DM_RATE=1  BENCH_STORM_SECS=8  BENCH_EMBEDDED=1 (0: skip embedded mode)
#   BENCH_EMBEDDED_RATE=1000
# This part (about 3 to 4 minutes, most of it connecting, warm-ups and the Syncer's drains)
# replaced the dm runs of both modes (about 3 minutes). To keep the full run under 10 minutes of
# runs (it took 9 min 38 s before), these were cut: the unpinned mode has no dm runs any more (the
# everyday path is measured pinned, as issue 17 asks); the open-loop dm runs send for 4 s (issue
# 17 measured 5 s) and the closed loop keeps its 1.5 s warm-up; the wait for this server's Redis
# buffer to drain after a dm run is at most 30 s (was 60; longer shows as "not within the wait");
# the unpinned fan-out latency runs last 2 s instead of 3 (BENCH_UNPINNED_LAT_SECS); the idle
# ramp's 5,000 step is gone (BENCH_IDLE_STEPS was 2000,5000,10000,19500). Embedded mode registers
# only the 2 x pairs users its dms need.
#
# scripts/bench.sh --only dm  (make bench-dm) runs only the everyday-path part above (pinned) and
# rewrites only its section of BENCHMARKS.md.
#
# scripts/bench.sh --only socketio,cluster  (make bench-more; about 8 minutes, not part of the
# default run, which would then pass 10 minutes) runs only the fan-out scenario, unpinned, for:
#   socketio  this server over /ws, this server over /socket.io/ (loadgen --proto chat-sio, the
#             same Engine.IO/Socket.IO client code as the node peer's) and the node peer (issue 11);
#   cluster   this server in cluster mode (Redis + MariaDB) over 1, 2 and 3 nodes, members
#             round-robin over the nodes, sender on node 1, and one plain server (issue 10).
# and rewrites only those sections of BENCHMARKS.md; a full run keeps them as they are.
#   BENCH_X_MEMBERS=1000  BENCH_X_STEP_SECS=2  BENCH_X_LAT_SECS=4
set -euo pipefail

ONLY=""
while [ $# -gt 0 ]; do
  case $1 in
    --only) ONLY=${2:-}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    *) echo "usage: $0 [--only socketio,cluster,dm]" >&2; exit 2 ;;
  esac
done
for part in ${ONLY//,/ }; do
  case $part in socketio|cluster|dm) ;; *) echo "bench: unknown part '$part' (socketio, cluster, dm)" >&2; exit 2 ;; esac
done

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/sbin:/sbin:$PATH

MODES=${BENCH_MODES:-"pinned unpinned"}
IDLE_MODES=${BENCH_IDLE_MODES:-pinned}
IDLE_STEPS=${BENCH_IDLE_STEPS:-2000,10000,19500}
MEMBERS=${BENCH_MEMBERS:-1000}
START_RATE=${BENCH_START_RATE:-25}
# Where the fan-out search starts for this server and the ceiling (their steps below it have
# never failed here); the socket.io peer starts at START_RATE.
FAST_START_RATE=${BENCH_FAST_START_RATE:-200}
STEP_SECS=${BENCH_STEP_SECS:-2}
LAT_SECS=${BENCH_LAT_SECS:-3}
DM=${BENCH_DM:-1}
DM_PAIRS=${BENCH_DM_PAIRS:-500}
DM_RATES=${BENCH_DM_RATES:-"1000 5000"}
DM_WARMUP=${BENCH_DM_WARMUP:-5}
DM_SECS=${BENCH_DM_SECS:-4}
DM_MAX_SECS=${BENCH_DM_MAX_SECS:-4}
DM_MAX_WARMUP=${BENCH_DM_MAX_WARMUP:-1.5}
DM_WINDOW=${BENCH_DM_WINDOW:-4}
DM_DRAIN_SECS=${BENCH_DM_DRAIN_SECS:-30}
STORM_USERS=${BENCH_STORM_USERS:-$MEMBERS}
STORM_DEVICES=${BENCH_STORM_DEVICES:-2}
STORM_ROOM_RATE=${BENCH_STORM_ROOM_RATE:-20}
STORM_DM_RATE=${BENCH_STORM_DM_RATE:-1}
STORM_SECS=${BENCH_STORM_SECS:-8}
EMBEDDED=${BENCH_EMBEDDED:-1}
EMBEDDED_RATE=${BENCH_EMBEDDED_RATE:-1000}
UNPINNED_LAT_SECS=${BENCH_UNPINNED_LAT_SECS:-2}
INSERT_ROWS=${BENCH_INSERT_ROWS:-20000}
OUT_MD=${BENCH_OUT:-BENCHMARKS.md}
PEER_SRC=${BENCH_PEER:-$ROOT/../shared/peers/socketio-chat}
X_MEMBERS=${BENCH_X_MEMBERS:-1000}
X_STEP_SECS=${BENCH_X_STEP_SECS:-2}
X_LAT_SECS=${BENCH_X_LAT_SECS:-4}
DM_SETTINGS="dm_pairs=$DM_PAIRS dm_rates=[$DM_RATES] dm_warmup=$DM_WARMUP dm_secs=$DM_SECS dm_max_secs=$DM_MAX_SECS dm_max_warmup=$DM_MAX_WARMUP dm_window=$DM_WINDOW dm_drain_secs=$DM_DRAIN_SECS storm_users=$STORM_USERS storm_devices=$STORM_DEVICES storm_room_rate=$STORM_ROOM_RATE storm_dm_rate=$STORM_DM_RATE storm_secs=$STORM_SECS embedded=$EMBEDDED embedded_rate=$EMBEDDED_RATE"
SETTINGS="modes=[$MODES] idle_modes=[$IDLE_MODES] idle_steps=$IDLE_STEPS members=$MEMBERS start_rate=$START_RATE/$FAST_START_RATE step_secs=$STEP_SECS lat_secs=$LAT_SECS unpinned_lat_secs=$UNPINNED_LAT_SECS insert_rows=$INSERT_ROWS dm=$DM"

START=$(date +%s)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
# Every step is logged with the seconds since the start.
log() { printf '\n== [%ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }
# The commit the report names: HEAD, marked when the measured sources differ from it or when the
# binaries came from BENCH_BIN rather than from this tree.
commit_label() {
  local c
  c=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD -- src bench scripts ':!bench/ANALYSIS.md' ':!bench/profiles' 2>/dev/null || c="$c (+ uncommitted changes)"
  [ -z "${BENCH_BIN:-}" ] || c="$c (release binaries from BENCH_BIN=$BENCH_BIN, not built from this tree)"
  echo "$c"
}

scripts/setup.sh bench
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
  log "release binaries from $BIN (BENCH_BIN, not built)"
else
  log "release build (chat-server, bench)"
  cargo build --release -p chat-server -p bench -p bench-server
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
BUILD_SECS=$(( $(date +%s) - START ))
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
svc_begin bench "${BENCH_KEEP:-}"
create_databases chat
DB_URL=$MYSQL/chat

# --- the socket.io peer, from a copy (shared/ is read-only) ---------------------------------------
log "npm ci for the socket.io peer"
cp -r "$PEER_SRC" "$WORK/peer"
rm -rf "$WORK/peer/node_modules"
(cd "$WORK/peer" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || {
  cat "$WORK/npm.log" >&2; exit 1; }
SIO_VERSION=$(node -p "require('$WORK/peer/node_modules/socket.io/package.json').version")

# --- the three servers ----------------------------------------------------------------------------
# All three run side by side during a mode, and each scenario runs on the three back to back, so
# that load from outside the benchmark (this machine is shared) hits them alike.
declare -A PID PORT

# The load generator signs thousands of accounts up and in from loopback: the per-address login
# and sign-up limits ([limits] in config.toml) must not apply to it.
# Loopback is exempt from the HTTP rate limits, and the idle ramp opens hundreds of sockets per
# user (ws.max_sessions_per_user is 32 by default).
# BENCH_SERVER_ENV adds settings to every chat-server process (e.g. CHAT__SEARCH__ENABLED=false).
BENCH_LIMITS="CHAT__LIMITS__EXEMPT_ADDRESSES=127.0.0.1,::1 CHAT__WS__MAX_SESSIONS_PER_USER=100000 ${BENCH_SERVER_ENV:-}"

start_server() { # $1: chat|sio|ceiling, $2: cpu prefix (taskset or empty), $3: ceiling threads
  local name=$1 pre=$2 p
  p=$(port)
  case $name in
    node*) # a cluster node: node1, node2, ...
      env RUST_LOG=warn CHAT__LOG__FILTER=warn \
        CHAT__SERVER__BIND=127.0.0.1:$p CHAT__DATABASE__URL="$DB_URL" CHAT__REDIS__URL="$REDIS_URL" \
        CHAT__REDIS__PREFIX=benchcluster CHAT__CLUSTER__ENABLED=true CHAT__CLUSTER__NODE_ID="$name" \
        CHAT__MEDIA__DIR="$WORK/media" CHAT__MEDIA__URL_SECRET=bench-cluster-secret \
        CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 $BENCH_LIMITS \
        $pre "$BIN/chat-server" >>"$WORK/$name.log" 2>&1 &
      ;;
    chat)
      env RUST_LOG=warn CHAT__LOG__FILTER=warn \
        CHAT__SERVER__BIND=127.0.0.1:$p CHAT__DATABASE__URL="$DB_URL" CHAT__REDIS__URL="$REDIS_URL" \
        CHAT__MEDIA__DIR="$WORK/media" CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 $BENCH_LIMITS \
        $pre "$BIN/chat-server" >>"$WORK/chat-server.log" 2>&1 &
      ;;
    embedded) # embedded mode: SQLite, no Redis (the shipped default storage)
      env RUST_LOG=warn CHAT__LOG__FILTER=warn \
        CHAT__SERVER__BIND=127.0.0.1:$p CHAT__DATABASE__URL="sqlite://$WORK/embedded.db?mode=rwc" CHAT__REDIS__URL= \
        CHAT__MEDIA__DIR="$WORK/media-embedded" CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 $BENCH_LIMITS \
        $pre "$BIN/chat-server" >>"$WORK/embedded.log" 2>&1 &
      ;;
    sio)
      (cd "$WORK/peer" && exec env PORT=$p REDIS_URL="$REDIS_URL" PRESENCE=off $pre node server.js) \
        >>"$WORK/peer.log" 2>&1 &
      ;;
    ceiling)
      $pre "$BIN/ceiling" --bind "127.0.0.1:$p" --threads "$3" >>"$WORK/ceiling.log" 2>&1 &
      ;;
  esac
  PID[$name]=$!
  PORT[$name]=$p
  svc_track "$!"
  case $name in
    chat|node*|embedded) wait_for 60 curl -sf "http://127.0.0.1:$p/healthz" ;;
    sio) wait_for 30 curl -sf "http://127.0.0.1:$p/stats" ;;
    ceiling) wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" ;;
  esac
}

stop_server() { # $1: name
  local pid=${PID[$1]}
  stop_pid "$pid"
  svc_forget "$pid"
  unset "PID[$1]"
}

# The fan-out rate every server is also measured at: half of the socket.io peer's best.
same_rate() {
  node -e "const r=require('$1'); if (r.half && r.half.rate) console.log(r.half.rate.toFixed(2))" 2>/dev/null || true
}

# With BENCH_PERF: profile the server under test while "$@" runs (bounded by the command itself).
profiled() { # $1: report name, $2: pid, rest: command
  local name=$1 pid=$2; shift 2
  if [ -z "${BENCH_PERF:-}" ]; then "$@"; return; fi
  mkdir -p "$BENCH_PERF"
  perf record -F 499 -g -p "$pid" -o "$WORK/$name.perf" >/dev/null 2>&1 &
  local perf_pid=$!
  local rc=0
  "$@" || rc=$?
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf report -i "$WORK/$name.perf" --stdio --no-children --sort symbol --percent-limit 0.7 2>/dev/null \
    | grep -E '^ +[0-9]' >"$BENCH_PERF/$name.txt" || true
  perf report -i "$WORK/$name.perf" --stdio --no-children --sort dso --percent-limit 1 2>/dev/null \
    | grep -E '^ +[0-9]' >"$BENCH_PERF/$name-dso.txt" || true
  return $rc
}

# CPU ticks (1/100 s) used so far by the given processes together.
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$(( t + ${f% *} + ${f#* } ))
  done
  echo $t
}

# Waits (at most 30 s) until this server ($1, default chat), MariaDB and Redis are idle (under 5 %
# of a core over a second): after a run this server still has work to finish (sessions closing,
# presence announcements, the Syncer), and the next server's run must not share the cores with it.
settle() {
  local i a b who=${1:-chat}
  for i in $(seq 30); do
    a=$(cpu_ticks "${PID[$who]:-}" "$MARIADB_PID" "$REDIS_PID")
    sleep 1
    b=$(cpu_ticks "${PID[$who]:-}" "$MARIADB_PID" "$REDIS_PID")
    [ $(( b - a )) -lt 5 ] && return 0
  done
  log "still busy after 30 s; going on"
}

# Waits until the chat server on port $1 has copied its Redis buffer into MariaDB, so that the next
# server (cluster mode allocates seqs from the store's highest) starts from a settled store.
drained() {
  wait_for 30 bash -c "curl -sf http://127.0.0.1:$1/metrics | grep -qx 'chat_write_buffer_depth 0'" || true
}

SETUP_JSON=$WORK/setup.json

# Users the full run registers: the fan-out room's members, and enough for the dms and the storm.
setup_count() {
  local n=$MEMBERS
  if [ "$DM" != 0 ]; then
    [ $(( 2 * DM_PAIRS )) -gt $n ] && n=$(( 2 * DM_PAIRS ))
    [ "$STORM_USERS" -gt $n ] && n=$STORM_USERS
  fi
  echo $n
}

# --only: registers the users once, through a fresh plain chat server left running as PID[chat].
setup_users() { # $1: users, $2: cpu prefix of the server (taskset or empty), rest: loadgen prefix
  local users=$1 pre=$2; shift 2
  start_server chat "$pre"
  if [ ! -f "$SETUP_JSON" ]; then
    log "registering users (argon2: slow on purpose)"
    "$@" "$BIN/loadgen" setup --http "http://127.0.0.1:${PORT[chat]}" --users "$users" --idle 40 --out "$SETUP_JSON"
    # Argon2's 19 MiB per hash stays in the allocator's arenas: measure on a fresh process.
    drained "${PORT[chat]}"
    stop_server chat
    start_server chat "$pre"
  fi
}

# --only socketio: fan-out over /ws, /socket.io/ and the node peer, unpinned, back to back.
run_socketio() {
  local out=$RES/socketio same p
  mkdir -p "$out"
  local fan=(--members "$X_MEMBERS" --start-rate "$START_RATE" --step-secs "$X_STEP_SECS" --latency-secs "$X_LAT_SECS" --max-secs 240)
  start_server sio ""
  log "[socketio] fan-out: node peer"
  "$BIN/loadgen" fanout --proto sio --host "127.0.0.1:${PORT[sio]}" --server-pid "${PID[sio]}" "${fan[@]}" \
    --out "$out/sio-fanout.json" || true
  same=$(same_rate "$out/sio-fanout.json")
  [ -n "$same" ] && fan+=(--same-rate "$same")
  for p in chat chat-sio; do
    log "[socketio] fan-out: this server, --proto $p"
    "$BIN/loadgen" fanout --proto $p --host "127.0.0.1:${PORT[chat]}" --server-pid "${PID[chat]}" \
      --setup "$SETUP_JSON" "${fan[@]}" --out "$out/$p-fanout.json" || true
  done
  stop_server sio
}

# --only cluster: this server in cluster mode over 1, 2 and 3 nodes (1 node is the baseline),
# after the same search on the plain server (no cluster) for reference; every run is also measured
# at half the plain server's best, for the latency comparison.
run_cluster() {
  local out=$RES/cluster n i same=""
  mkdir -p "$out"
  log "[cluster] reference: one plain server (cluster mode off)"
  "$BIN/loadgen" fanout --proto chat --host "127.0.0.1:${PORT[chat]}" --server-pid "${PID[chat]}" --setup "$SETUP_JSON" \
    --members "$X_MEMBERS" --start-rate "$START_RATE" --step-secs "$X_STEP_SECS" --latency-secs "$X_LAT_SECS" \
    --max-secs 240 --out "$out/plain-fanout.json" || true
  same=$(same_rate "$out/plain-fanout.json")
  drained "${PORT[chat]}"
  stop_server chat
  for n in 1 2 3; do
    log "[cluster] $n node(s)"
    local hosts=() pids=() more=()
    for i in $(seq 1 "$n"); do
      start_server "node$i" ""
      hosts+=("127.0.0.1:${PORT[node$i]}")
      pids+=("${PID[node$i]}")
    done
    local fan=(--members "$X_MEMBERS" --start-rate "$START_RATE" --step-secs "$X_STEP_SECS" --latency-secs "$X_LAT_SECS" --max-secs 240)
    [ -n "$same" ] && fan+=(--same-rate "$same")
    [ "$n" -gt 1 ] && more=(--more-hosts "$(IFS=,; echo "${hosts[*]:1}")")
    "$BIN/loadgen" fanout --proto chat --host "${hosts[0]}" "${more[@]}" --server-pid "$(IFS=,; echo "${pids[*]}")" \
      --setup "$SETUP_JSON" "${fan[@]}" --out "$out/nodes$n-fanout.json" || true
    drained "${PORT[node1]}"
    for i in $(seq "$n" -1 1); do stop_server "node$i"; done
  done
}

# --- the everyday path (issue 17): dms, the reconnect storm, embedded mode; always pinned ---------
# Loadgen arguments naming server $1 for the dm runs (chat: this server's setup and /metrics).
dm_target() {
  T=(--proto chat --host "127.0.0.1:${PORT[$1]}" --server-pid "${PID[$1]}")
  case $1 in
    chat) T+=(--setup "$SETUP_JSON" --metrics --drain-secs "$DM_DRAIN_SECS") ;;
    embedded) T+=(--setup "$WORK/setup-embedded.json") ;;
    sio) T[1]=sio ;;
  esac
}

run_dm() {
  local out=$RES/dm srv="taskset -c 0" r s
  local lg=(taskset -c 1 "$BIN/loadgen")
  mkdir -p "$out"
  # Fresh pinned processes (a --only run's setup server runs unpinned).
  [ -n "${PID[chat]:-}" ] && stop_server chat
  log "[dm] starting this server and the socket.io peer, pinned"
  setup_users "$(setup_count)" "$srv" taskset -c 1
  start_server sio "$srv"
  local dm=(--pairs "$DM_PAIRS" --redis-pid "$REDIS_PID" --max-secs 150)
  for r in $DM_RATES; do
    for s in sio chat; do
      log "[dm] $DM_PAIRS dm pairs at $r msg/s, open loop: $s"
      dm_target $s
      profiled "dm-$s-$r" "${PID[$s]}" "${lg[@]}" dm "${T[@]}" "${dm[@]}" --rate "$r" --secs "$DM_SECS" \
        --warmup-secs "$DM_WARMUP" --out "$out/$s-dm-$r.json" || true
      [ $s = chat ] && settle
    done
  done
  for s in sio chat; do
    log "[dm] $DM_PAIRS dm pairs, closed loop: $s"
    dm_target $s
    profiled "dm-$s-max" "${PID[$s]}" "${lg[@]}" dm "${T[@]}" "${dm[@]}" --window "$DM_WINDOW" \
      --secs "$DM_MAX_SECS" --warmup-secs "$DM_MAX_WARMUP" --out "$out/$s-dm-max.json" || true
    [ $s = chat ] && settle
  done
  stop_server sio
  log "[dm] reconnect storm: $STORM_USERS users x $STORM_DEVICES sockets at once"
  profiled "dm-chat-storm" "${PID[chat]}" "${lg[@]}" storm --proto chat --host "127.0.0.1:${PORT[chat]}" \
    --setup "$SETUP_JSON" --server-pid "${PID[chat]}" --users "$STORM_USERS" --devices "$STORM_DEVICES" \
    --room-rate "$STORM_ROOM_RATE" --dm-rate "$STORM_DM_RATE" --secs "$STORM_SECS" --max-secs 120 \
    --out "$out/chat-storm.json" || true
  drained "${PORT[chat]}"
  stop_server chat
  if [ "$EMBEDDED" != 0 ]; then
    log "[dm] embedded mode (SQLite, no Redis): registering $(( 2 * DM_PAIRS )) users"
    start_server embedded "$srv"
    "${lg[@]}" setup --http "http://127.0.0.1:${PORT[embedded]}" --users $(( 2 * DM_PAIRS )) --idle 0 \
      --out "$WORK/setup-embedded.json" || true
    settle embedded
    local edm=(--pairs "$DM_PAIRS" --max-secs 150)
    log "[dm] embedded: $DM_PAIRS dm pairs at $EMBEDDED_RATE msg/s, open loop"
    dm_target embedded
    profiled "dm-embedded-$EMBEDDED_RATE" "${PID[embedded]}" "${lg[@]}" dm "${T[@]}" "${edm[@]}" \
      --rate "$EMBEDDED_RATE" --secs "$DM_SECS" --warmup-secs "$DM_WARMUP" --out "$out/embedded-dm-$EMBEDDED_RATE.json" || true
    settle embedded
    log "[dm] embedded: $DM_PAIRS dm pairs, closed loop"
    profiled "dm-embedded-max" "${PID[embedded]}" "${lg[@]}" dm "${T[@]}" "${edm[@]}" --window "$DM_WINDOW" \
      --secs "$DM_MAX_SECS" --warmup-secs "$DM_MAX_WARMUP" --out "$out/embedded-dm-max.json" || true
    stop_server embedded
  fi
}

if [ -n "$ONLY" ]; then
  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  # Users for every part asked: the fan-out room's members, the dm pairs, the storm's users.
  need=0
  if [[ ",$ONLY," == *,socketio,* || ",$ONLY," == *,cluster,* ]]; then need=$X_MEMBERS; fi
  if [[ ",$ONLY," == *,dm,* ]]; then
    [ $(( 2 * DM_PAIRS )) -gt $need ] && need=$(( 2 * DM_PAIRS ))
    [ "$STORM_USERS" -gt $need ] && need=$STORM_USERS
  fi
  setup_users "$need" ""
  if [[ ",$ONLY," == *,socketio,* ]]; then run_socketio; fi
  if [[ ",$ONLY," == *,cluster,* ]]; then run_cluster; fi
  if [[ ",$ONLY," == *,dm,* ]]; then run_dm; fi
  END=$(date +%s)
  COMMIT=$(commit_label)
  cat >"$RES/meta.json" <<EOF
{"command": "scripts/bench.sh --only $ONLY", "started": "$STARTED", "duration": "$(( (END - START) / 60 )) min $(( (END - START) % 60 )) s (release build $(( BUILD_SECS / 60 )) min $(( BUILD_SECS % 60 )) s, then $(( (END - START - BUILD_SECS) / 60 )) min $(( (END - START - BUILD_SECS) % 60 )) s of runs)",
 "commit": "$COMMIT", "settings": "members=$X_MEMBERS start_rate=$START_RATE step_secs=$X_STEP_SECS lat_secs=$X_LAT_SECS, unpinned",
 "dm_settings": "$DM_SETTINGS",
 "node": "$(node --version)", "socketio": "$SIO_VERSION",
 "load": "$LOAD_START at the start (after the build), $(cut -d' ' -f1-3 /proc/loadavg) at the end"}
EOF
  "$BIN/report" --results "$RES" --out "$OUT_MD" --only "$ONLY"
  log "done in $(( END - START )) s: $OUT_MD"
  exit 0
fi

run_mode() {
  local mode=$1 srv="" gen="" threads=0 s
  if [ "$mode" = pinned ]; then srv="taskset -c 0"; gen="taskset -c 1"; threads=1; fi
  local out=$RES/$mode
  mkdir -p "$out"
  local lg=($gen "$BIN/loadgen")
  # Loadgen arguments naming server $1.
  target() {
    T=(--proto "$1" --host "127.0.0.1:${PORT[$1]}" --server-pid "${PID[$1]}")
    [ "$1" = chat ] && T+=(--setup "$SETUP_JSON")
    return 0
  }

  log "[$mode] starting the three servers"
  setup_users "$(setup_count)" "$srv" $gen
  start_server sio "$srv"
  start_server ceiling "$srv" "$threads"

  if [[ " $IDLE_MODES " == *" $mode "* ]]; then
    for s in sio chat ceiling; do
      log "[$mode] idle ramp: $s"
      target $s
      "${lg[@]}" idle "${T[@]}" --steps "$IDLE_STEPS" --max-secs 240 --out "$out/$s-idle.json" || true
    done
  fi

  local lat=$LAT_SECS
  [ "$mode" = unpinned ] && lat=$UNPINNED_LAT_SECS
  local fan=(--members "$MEMBERS" --step-secs "$STEP_SECS" --latency-secs "$lat" --max-secs 240)
  settle
  log "[$mode] fan-out: sio"
  target sio
  "${lg[@]}" fanout "${T[@]}" "${fan[@]}" --start-rate "$START_RATE" --out "$out/sio-fanout.json" || true
  local same
  same=$(same_rate "$out/sio-fanout.json")
  [ -n "$same" ] && fan+=(--same-rate "$same")
  fan+=(--start-rate "$FAST_START_RATE")
  log "[$mode] fan-out: chat"
  target chat
  profiled "$mode-chat-fanout" "${PID[chat]}" "${lg[@]}" fanout "${T[@]}" "${fan[@]}" --out "$out/chat-fanout.json" || true
  settle
  log "[$mode] fan-out: ceiling"
  target ceiling
  "${lg[@]}" fanout "${T[@]}" "${fan[@]}" --out "$out/ceiling-fanout.json" || true

  for s in ceiling sio chat; do stop_server $s; done
}

for mode in $MODES; do run_mode "$mode"; done
if [ "$DM" != 0 ]; then run_dm; fi

log "SeaORM batch insert vs raw multi-row INSERT"
"$BIN/insertbench" --url "$DB_URL" --rows "$INSERT_ROWS" --out "$RES/insert.json" || true

END=$(date +%s)
COMMIT=$(commit_label)
cat >"$RES/meta.json" <<EOF
{"command": "make bench", "started": "$STARTED", "duration": "$(( (END - START) / 60 )) min $(( (END - START) % 60 )) s (release build $(( BUILD_SECS / 60 )) min $(( BUILD_SECS % 60 )) s, then $(( (END - START - BUILD_SECS) / 60 )) min $(( (END - START - BUILD_SECS) % 60 )) s of runs)",
 "commit": "$COMMIT", "modes": "$MODES", "settings": "$SETTINGS", "dm_settings": "$DM_SETTINGS",
 "node": "$(node --version)", "socketio": "$SIO_VERSION",
 "load": "$LOAD_START at the start (after the build), $(cut -d' ' -f1-3 /proc/loadavg) at the end"}
EOF
"$BIN/report" --results "$RES" --out "$OUT_MD" --notes bench/ANALYSIS.md
log "done in $(( END - START )) s: $OUT_MD"
