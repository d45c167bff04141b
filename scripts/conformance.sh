#!/usr/bin/env bash
# WebSocket conformance: the Autobahn|Testsuite cases, driven by kosoku, against
# examples/ws_echo.rs (an echo server on the server's own WebSocket layer, src/websocket; it is an
# example and never part of the shipped server). Fails if any case FAILED.
#
#   scripts/conformance.sh                  the sections below; report in target/autobahn/
#   scripts/conformance.sh --write-summary  ... and rewrite tests/autobahn/SUMMARY.md (make conformance)
#
# Sections 1-7, 9 and 10 run (in about 15 s on the 2-core CI machine, debug build). Not run: 12
# and 13 (permessage-deflate: the layer offers no extension, so there is nothing to test), and 8
# (no such cases in the suite). kosoku is installed by `scripts/setup.sh test`; KOSOKU=/path
# overrides where it is found.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=("1.*" "2.*" "3.*" "4.*" "5.*" "6.*" "7.*" "9.*" "10.*")
CARGO=${CARGO:-cargo}
write_summary=false
[ "${1:-}" = --write-summary ] && write_summary=true

kosoku=${KOSOKU:-}
if [ -z "$kosoku" ]; then
  kosoku="$(scripts/setup.sh kosoku-path)"
  [ -x "$kosoku" ] || kosoku="$(command -v kosoku || true)"
fi
if [ -z "$kosoku" ] || [ ! -x "$kosoku" ]; then
  echo "conformance: kosoku not found; run scripts/setup.sh test (or set KOSOKU)" >&2
  exit 1
fi

echo "+ $CARGO build --example ws_echo" >&2
$CARGO build --quiet --example ws_echo
target_dir="$($CARGO metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
echo_bin="$target_dir/debug/examples/ws_echo"
reports="$target_dir/autobahn"
rm -rf "$reports"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUST_LOG=${RUST_LOG:-warn} "$echo_bin" "127.0.0.1:$port" &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$echo_pid" 2>/dev/null || { echo "conformance: ws_echo did not start" >&2; exit 1; }
  sleep 0.1
done

args=()
for c in "${CASES[@]}"; do args+=(-i "$c"); done
echo "+ kosoku -m fuzzingclient ws://127.0.0.1:$port ${args[*]}" >&2
status=0
"$kosoku" -m fuzzingclient "ws://127.0.0.1:$port" "${args[@]}" -o "$reports" >"$reports.log" 2>&1 || status=$?
tail -n 1 "$reports.log" >&2

summary_args=()
if $write_summary; then
  version="$("$(dirname "$kosoku")/python" -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null || echo '?')"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  summary_args=(--write tests/autobahn/SUMMARY.md --note "$(printf '%s\n' \
    "# Autobahn|Testsuite results (make conformance)" "" \
    "kosoku $version, sections ${CASES[*]}, against examples/ws_echo.rs (debug build) on the WebSocket" \
    "layer of commit $commit, run $(date -u +%Y-%m-%d). Sections 12 and 13 (permessage-deflate) are not run:" \
    "the layer negotiates no extension. A case counts once, with the worse of its behaviour and its close" \
    "behaviour. The full per-case report is written to target/autobahn/ (index.html).")")
fi
python3 tests/autobahn/summarize.py "$reports" "${summary_args[@]}" || status=1
exit $status
