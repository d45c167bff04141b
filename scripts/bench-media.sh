#!/usr/bin/env bash
# make bench-media: the media numbers of issue 21, on this machine, in one run; rewrites only the
# section "Media (issue 21)" of BENCHMARKS.md (between <!-- section:media --> markers; a full
# `make bench` keeps it).
#
#   1. bench/src/bin/mediabench.rs: makes 720p and 1080p clips, 12 MP photos and a voice note with
#      the ffmpeg CLI, then times the MediaWorker's own functions against the ffmpeg CLI (same
#      codec settings, read from the server's code), vipsthumbnail and ImageMagick; SSIM of
#      the videos with ffmpeg's ssim filter.
#   2. Dm ack latency with and without a transcode load: a release chat-server in embedded mode
#      (SQLite, no Redis; `media.workers` = one per core), MEDIA_DM_PAIRS dm pairs sending
#      MEDIA_DM_RATE msg/s in total for MEDIA_DM_SECS s (loadgen dm, open loop), once idle and
#      once right after MEDIA_DM_UPLOADS uploads of the 1080p clip (their transcodes keep the
#      MediaWorker pool busy for the whole run).
#
# Installs ffmpeg, libvips-tools and imagemagick first (scripts/setup.sh bench-media). Knobs
# (environment): MEDIA_VIDEO_RUNS=1 MEDIA_IMAGE_RUNS=3 MEDIA_DM_PAIRS=100 MEDIA_DM_RATE=500
# MEDIA_DM_SECS=5 MEDIA_DM_UPLOADS=2 BENCH_OUT=BENCHMARKS.md BENCH_KEEP=1 (keep the scratch dir).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VIDEO_RUNS=${MEDIA_VIDEO_RUNS:-1}
IMAGE_RUNS=${MEDIA_IMAGE_RUNS:-3}
PAIRS=${MEDIA_DM_PAIRS:-100}
RATE=${MEDIA_DM_RATE:-500}
SECS=${MEDIA_DM_SECS:-5}
UPLOADS=${MEDIA_DM_UPLOADS:-2}
OUT_MD=${BENCH_OUT:-BENCHMARKS.md}

log() { echo "bench-media: $*" >&2; }

scripts/setup.sh bench-media
log "building (release)"
cargo build --release --quiet -p chat-server --bin chat-server
cargo build --release --quiet -p bench --bin loadgen -p bench-server --bin mediabench
BIN=$ROOT/target/release

WORK=$(mktemp -d /tmp/bench-media.XXXXXX)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
START=$(date +%s)

wait_for() {
  local secs=$1; shift
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "timed out waiting for: $*"; return 1; }
    sleep 0.2
  done
}

log "transcodes, photos, voice notes (scratch: $WORK)"
"$BIN/mediabench" --work "$WORK" --out "$WORK/media.json" --video-runs "$VIDEO_RUNS" \
  --image-runs "$IMAGE_RUNS" --cli-auto-threads

log "dm acks idle and under a transcode load"
PORT=$("$BIN/loadgen" free-port)
HTTP=http://127.0.0.1:$PORT
env RUST_LOG=warn CHAT__SERVER__BIND=127.0.0.1:$PORT \
  CHAT__DATABASE__URL="sqlite://$WORK/chat.db?mode=rwc" CHAT__REDIS__URL= CHAT__MEDIA__DIR="$WORK/media" \
  CHAT__WS__RATE_PER_SEC=1000000 CHAT__WS__RATE_BURST=1000000 \
  CHAT__LIMITS__EXEMPT_ADDRESSES=127.0.0.1,::1 \
  "$BIN/chat-server" >>"$WORK/chat-server.log" 2>&1 &
SERVER_PID=$!
wait_for 60 curl -sf "$HTTP/healthz"
"$BIN/loadgen" setup --http "$HTTP" --users $(( 2 * PAIRS )) --idle 0 --out "$WORK/setup.json"
dm() { # $1: output file
  "$BIN/loadgen" dm --proto chat --host "127.0.0.1:$PORT" --setup "$WORK/setup.json" \
    --server-pid "$SERVER_PID" --pairs "$PAIRS" --rate "$RATE" --secs "$SECS" --warmup-secs 1.5 --out "$1"
}
dm "$WORK/dm-idle.json"
TOKEN=$(curl -sf "$HTTP/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"username\":\"uploader$RANDOM\",\"password\":\"correct horse battery\"}" |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
IDS=()
for _ in $(seq "$UPLOADS"); do
  IDS+=("$(curl -sf "$HTTP/api/media" -H "Authorization: Bearer $TOKEN" -F "file=@$WORK/clip1080.mp4" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')")
done
dm "$WORK/dm-load.json"
# The load must have lasted the whole run: the transcodes are still going when it ends.
BUSY=0
for id in "${IDS[@]}"; do
  curl -sf "$HTTP/api/media/$id" -H "Authorization: Bearer $TOKEN" | grep -q '"status":"processing"' && BUSY=$(( BUSY + 1 ))
done
NOTE="Embedded mode (SQLite), release build, \`media.workers\` = one per core (2), \`media.worker_nice\` 10 and \`media.worker_sched_idle\` true (the defaults). $PAIRS dm pairs, both members connected, $RATE msg/s in total for $SECS s (open loop, loadgen dm), generator unpinned on the same 2 cores. The load: $UPLOADS uploads of the 1080p clip through \`POST /api/media\` just before the second run; $BUSY of them were still transcoding when it ended."
"$BIN/mediabench" --work "$WORK" --out "$WORK/media.json" --report "$OUT_MD" \
  --dm-idle "$WORK/dm-idle.json" --dm-load "$WORK/dm-load.json" --dm-note "$NOTE" \
  --command "make bench-media (scripts/bench-media.sh, $(( $(date +%s) - START )) s)"
log "done in $(( $(date +%s) - START )) s: $OUT_MD"
