#!/usr/bin/env bash
# Fills a fresh `coffer server` through HTTP with KEYS empty objects spread
# over DIRS "directories", then measures ListObjectsV2 pages with delimiter
# `/` (1000 common prefixes each) and without (1000 keys), right after the
# fill and again after a restart on the same data; prints the server's peak
# RSS (VmHWM) of each phase.
#
# Usage: bench/scripts/list-dirs.sh [KEYS] [DIRS] [PAGES]
#   defaults 1000000 10000 300
# Environment: CARGO_TARGET_DIR (release binaries), COFFER_BENCH_DIR (data
#   directory parent, default ~/.cache/coffer-bench).
set -euo pipefail

KEYS=${1:-1000000}
DIRS=${2:-10000}
PAGES=${3:-300}
BIN=${CARGO_TARGET_DIR:-target}/release
BENCH_DIR=${COFFER_BENCH_DIR:-$HOME/.cache/coffer-bench}
AK=COFFERLOADBENCH0001
SK=coffer/load+bench=0123456789abcdefghij
mkdir -p "$BENCH_DIR"
DATA=$(mktemp -d "$BENCH_DIR/list-dirs.XXXXXX")
LOG=$DATA.log

start() {
    COFFER_ROOT_ACCESS_KEY=$AK COFFER_ROOT_SECRET_KEY=$SK "$BIN/coffer" server --log warn --data-dir "$DATA" \
        --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 > "$LOG" 2>&1 &
    PID=$!
    for _ in $(seq 1 600); do
        EP=$(grep -o "S3 API listening on http://[0-9.:]*[0-9]" "$LOG" 2>/dev/null | sed 's|.* ||') || true
        [ -n "$EP" ] && return 0
        sleep 0.1
    done
    echo "server did not start (see $LOG)" >&2
    exit 1
}
stop() {
    if [ -n "${PID:-}" ]; then
        echo "peak RSS: $(awk '/VmHWM/ {print $2}' "/proc/$PID/status") kB"
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
trap 'stop; rm -rf "$DATA" "$LOG"' EXIT

load() { "$BIN/coffer-load" --endpoint "$EP" --access-key $AK --secret-key $SK --bucket dirs --no-progress "$@"; }
row() { grep -E '^(LIST|op) '; }

start
echo "== fill: $KEYS objects over $DIRS directories, then $PAGES delimiter pages"
start_s=$(date +%s)
load --op list --size 0 --prefill "$KEYS" --prefill-dirs "$DIRS" --prefill-concurrency 64 --concurrency 1 \
    --ops "$PAGES" --list-delimiter / --key-prefix k | row
echo "(fill and pages: $(( $(date +%s) - start_s )) s)"
# The run's prefix (coffer-load writes under k/<run id>/), read back with
# curl's SigV4 (curl 7.88 signs the query as given: pre-encoded and sorted).
PREFIX=$(curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$EP/dirs?delimiter=%2F&list-type=2&prefix=k%2F" |
    grep -o '<Prefix>k/[0-9]*/</Prefix>' | head -1 | sed 's|<Prefix>\(.*\)</Prefix>|\1|')pre/
echo "== $PAGES flat pages of 1000 keys"
load --op list --concurrency 1 --ops "$PAGES" --list-prefix k/ | row
stop
echo "== after a restart: $PAGES delimiter pages under $PREFIX, then $PAGES flat pages"
start
load --op list --concurrency 1 --ops "$PAGES" --list-prefix "$PREFIX" --list-delimiter / | row
load --op list --concurrency 1 --ops "$PAGES" --list-prefix k/ | row
stop
