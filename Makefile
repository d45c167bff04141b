# Developer entry points for the chat server.
#
#   make run     install build deps, then run the server (reads ./config.toml; the default
#                config uses SQLite under data/ and no Redis)
#   make test    install build + test deps (redis-server, mariadb, chromium, tests/browser's npm
#                packages, kosoku), run the whole test suite, the WebSocket conformance cases,
#                then the protocol contract checks in ../shared/contract (when present)
#   make build   release build of the workspace
#   make bench   quick side-by-side benchmark vs the socket.io peer and a bare ceiling (under
#                10 minutes; starts Redis, MariaDB and the peer itself); rewrites BENCHMARKS.md
#   make bench-more  fan-out over /ws vs /socket.io/ vs the peer, and over 1/2/3 cluster nodes
#                (scripts/bench.sh --only socketio,cluster, about 8 minutes); updates only those
#                sections of BENCHMARKS.md
#   make bench-dm  the everyday path of issue 17 only, pinned: dms vs the peer at 1,000 and 5,000
#                msg/s, the closed loop, the reconnect storm, embedded mode (scripts/bench.sh
#                --only dm); updates only its section of BENCHMARKS.md
#   make bench-search  message search (issue 18): one-word search latency over 1,000,000 generated
#                messages in SQLite and in MariaDB + Redis, and the dm rate with and without
#                indexing (scripts/bench-search.sh); updates only its section of BENCHMARKS.md
#   make bench-media  issue 21's media numbers (scripts/bench-media.sh, about 10 minutes): the
#                MediaWorker's transcode vs the ffmpeg CLI at the same settings (time, CPU, size,
#                SSIM), photos vs vipsthumbnail and ImageMagick, voice notes, dm ack p99 under a
#                transcode load; installs ffmpeg, libvips-tools, imagemagick; updates only the
#                "Media (issue 21)" section of BENCHMARKS.md
#   make chaos   faults under full load (issue 19, scripts/chaos.sh, 5 to 10 minutes): a closed-loop
#                dm load while the server is killed -9, Redis is killed and restarted, MariaDB is
#                frozen for 10 s, and one of three cluster nodes is killed; checks that every acked
#                message is in MariaDB once with gap-free seqs, that no client saw a duplicate or
#                a gap after sync, and the server's RSS; rewrites CHAOS.md; exit 1 on a failure
#   make conformance  the Autobahn|Testsuite WebSocket cases (kosoku) against an echo server on
#                the server's WebSocket layer (examples/ws_echo.rs); rewrites tests/autobahn/SUMMARY.md
#                (make test runs the same cases, without rewriting the summary)
#   make fuzz    every fuzz target (fuzz/, cargo-fuzz, nightly) for FUZZ_SECS seconds (default 60)
#   make fmt     format all workspace crates
#   make lint    clippy on all targets, warnings are errors
#   make clean   remove build artefacts

# The tests start redis-server, mariadbd and mariadb-install-db themselves; on Debian mariadbd
# lives in /usr/sbin, which is not in a normal user's PATH.
export PATH := /usr/sbin:/sbin:$(PATH)

CARGO ?= cargo
# Black-box protocol checks shared with other implementations (optional; read-only folder).
CONTRACT := ../shared/contract/run.sh

.PHONY: all run test build fmt lint clean deps test-deps contract conformance fuzz bench bench-more bench-dm bench-search bench-media chaos

all: build

# Debian packages needed to build and run the server (idempotent, quick when nothing is missing).
deps:
	scripts/setup.sh run

# ... plus the real Redis and MariaDB servers the tests start.
test-deps:
	scripts/setup.sh test

run: deps
	$(CARGO) run --release --bin chat-server

# Checks formatting and clippy (warnings are errors), runs every test even when some fail, then
# the WebSocket conformance cases and the contract checks; fails if anything failed.
# Uses cargo-nextest (one process per test, settings in .config/nextest.toml) when installed.
test: test-deps
	@status=0; \
	echo "+ $(CARGO) fmt --all -- --check"; \
	$(CARGO) fmt --all -- --check || status=$$?; \
	echo "+ $(CARGO) clippy --workspace --all-targets -- -D warnings"; \
	$(CARGO) clippy --workspace --all-targets -- -D warnings || status=$$?; \
	echo "+ $(CARGO) build -p chat-cli (tests/integration/cli.rs runs the binary)"; \
	$(CARGO) build -p chat-cli || status=$$?; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ $(CARGO) nextest run --workspace --no-fail-fast"; \
		$(CARGO) nextest run --workspace --no-fail-fast || status=$$?; \
	else \
		echo "+ $(CARGO) test --workspace --no-fail-fast (cargo-nextest not installed)"; \
		$(CARGO) test --workspace --no-fail-fast || status=$$?; \
	fi; \
	echo "+ scripts/conformance.sh"; \
	scripts/conformance.sh || status=$$?; \
	if [ -f $(CONTRACT) ]; then \
		echo "+ $(CONTRACT)"; \
		bash $(CONTRACT) || status=$$?; \
	else \
		echo "($(CONTRACT) not found: contract checks skipped)"; \
	fi; \
	exit $$status

# Only the contract checks (needs python3 with venv; builds the server in release mode).
contract:
	bash $(CONTRACT)

# WebSocket conformance (needs kosoku, installed by test-deps); fails if any case FAILED.
conformance: test-deps
	scripts/conformance.sh --write-summary

# Fuzzing on nightly: each target for FUZZ_SECS seconds; fails if one crashes (see fuzz/README.md).
FUZZ_SECS ?= 60
fuzz: deps
	FUZZ_SECS=$(FUZZ_SECS) scripts/fuzz.sh

build: deps
	$(CARGO) build --workspace --release

# Numbers are printed and recorded in BENCHMARKS.md, never asserted. Knobs: see scripts/bench.sh.
bench:
	scripts/bench.sh

bench-more:
	scripts/bench.sh --only socketio,cluster

bench-dm:
	scripts/bench.sh --only dm

bench-search:
	scripts/bench-search.sh

bench-media:
	scripts/bench-media.sh

# Installs what it needs (scripts/setup.sh chaos), then builds release binaries itself.
chaos:
	scripts/chaos.sh

fmt:
	$(CARGO) fmt --all

lint: deps
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
