#!/usr/bin/env bash
# Installs the Debian packages the server, its tests and its benchmarks need, and the npm
# packages the node-driven tests use (from their committed lock files).
# Idempotent: packages already installed are skipped, and apt is not touched at all
# when nothing is missing. Usage: scripts/setup.sh [run|test|bench|bench-media|chaos|kosoku-path]
# (kosoku-path only prints where kosoku is installed).
set -euo pipefail

# Needed to build and run the server (ffmpeg-next needs the libav* headers and clang for bindgen).
RUN_PKGS=(build-essential pkg-config clang libclang-dev libssl-dev libsqlite3-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev libvpx-dev libopus-dev)
# Needed by the test suite: real Redis and MariaDB servers, started on loopback by the tests,
# python3 with venv for the protocol contract checks (../shared/contract/run.sh), and node + npm
# for the socket.io-client and browser tests (Debian's nodejs and npm, unless a node with npm is
# installed already).
TEST_PKGS=(redis-server mariadb-server mariadb-client python3 python3-venv)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then TEST_PKGS+=(nodejs npm); fi
# The browser tests (tests/browser, Playwright) drive Debian's Chromium headless.
BROWSER_PKGS=(chromium fonts-noto-color-emoji)
# Needed by `make bench` on top: curl and taskset (node + npm for the socket.io reference peer
# come with the test packages).
BENCH_PKGS=(curl util-linux)
# Needed by `make bench-media` only: the ffmpeg command line (makes the clips, is the reference
# transcoder and measures SSIM), libvips' vipsthumbnail and ImageMagick (reference image work).
MEDIA_BENCH_PKGS=(ffmpeg libvips-tools imagemagick)
# Needed by `make chaos`: Redis, MariaDB (server and client), curl and taskset; no node.
CHAOS_PKGS=(redis-server mariadb-server mariadb-client curl util-linux)

mode=${1:-test}

# kosoku for the WebSocket conformance cases (make test, make conformance), pinned, in a venv
# outside the repository; created once.
KOSOKU_VERSION=0.1.0
KOSOKU_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/chat-server/kosoku-$KOSOKU_VERSION"
if [ "$mode" = kosoku-path ]; then
  echo "$KOSOKU_VENV/bin/kosoku"
  exit 0
fi
kosoku() {
  [ "$mode" = test ] || return 0
  [ -x "$KOSOKU_VENV/bin/kosoku" ] && return 0
  echo "setup: installing kosoku $KOSOKU_VERSION into $KOSOKU_VENV" >&2
  python3 -m venv "$KOSOKU_VENV"
  "$KOSOKU_VENV/bin/pip" install --quiet --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
}
pkgs=("${RUN_PKGS[@]}")
[ "$mode" = test ] || [ "$mode" = bench ] && pkgs+=("${TEST_PKGS[@]}")
[ "$mode" = test ] && pkgs+=("${BROWSER_PKGS[@]}")
[ "$mode" = bench ] && pkgs+=("${BENCH_PKGS[@]}")
[ "$mode" = bench-media ] && pkgs+=("${MEDIA_BENCH_PKGS[@]}")
[ "$mode" = chaos ] && pkgs+=("${CHAOS_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# `npm ci` in a tests/ folder when its node_modules is missing or older than its lock file.
# (playwright-core never downloads a browser; socket.io-client is the real client package.)
npm_ci_in() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/$1"
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in tests/$1" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
node_modules() {
  if [ "$mode" = test ] || [ "$mode" = bench ]; then npm_ci_in socketio; fi
  if [ "$mode" = test ]; then npm_ci_in browser; fi
}

if [ ${#missing[@]} -eq 0 ]; then
  node_modules
  kosoku
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged services must not keep running system-wide: the tests start their own.
for svc in redis-server mariadb; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
node_modules
kosoku
