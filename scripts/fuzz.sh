#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on the nightly toolchain) for FUZZ_SECS seconds each
# (default 60), one after the other, and prints each one's final libFuzzer figures. Fails when a
# target finds a crash: the input is in fuzz/artifacts/<target>/; copy it to
# fuzz/regressions/<target>/ with the fix, so `make test` replays it on stable.
#
# New inputs go to fuzz/work/<target>/ (not committed); the committed seeds in
# fuzz/corpus/<target>/ are only read. FUZZ_TARGETS="a b" runs only those targets.
#
# Built without a sanitizer (-s none): the code under test is safe Rust, where an out-of-bounds
# access already panics, and it runs about twice as many inputs per second as under ASan.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

FUZZ_SECS=${FUZZ_SECS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-"ws_frame protocol_json protocol_msgpack engineio_packet socketio_packet media_sniff"}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "+ cargo install cargo-fuzz --locked" >&2
  cargo install cargo-fuzz --locked
fi

echo "+ cargo +nightly fuzz build -s none" >&2
cargo +nightly fuzz build -s none
status=0
results=()
for t in $FUZZ_TARGETS; do
  mkdir -p "work/$t"
  echo "+ cargo +nightly fuzz run -s none $t (${FUZZ_SECS}s)" >&2
  rc=0
  cargo +nightly fuzz run -s none "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$FUZZ_SECS" -print_final_stats=1 >"work/$t.log" 2>&1 || rc=$?
  last="$(grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "work/$t.log" | tail -n 1 || true)"
  execs="$(grep -E '^stat::average_exec_per_sec' "work/$t.log" | awk '{print $2}' || true)"
  if [ "$rc" -ne 0 ]; then
    status=1
    results+=("$t: CRASH (exit $rc), see fuzz/work/$t.log and fuzz/artifacts/$t/")
  else
    results+=("$t: ok, ${execs:-?} exec/s; $last")
  fi
done
printf '%s\n' "${results[@]}"
exit $status
