#!/usr/bin/env bash
# Large-object PUT and GET with and without SSE-S3 against one `coffer
# server`, alternating (plain, SSE, plain, SSE) so that both see the same
# machine noise; prints MiB/s of each run and the SSE/plain ratio of the sums.
#
# Usage: bench/scripts/sse.sh [DURATION] [ROUNDS]   (defaults 15s, 2)
# Environment: CARGO_TARGET_DIR (release binaries), COFFER_BENCH_DIR (data dir parent).
set -euo pipefail

DURATION=${1:-15s}
ROUNDS=${2:-2}
BIN=${CARGO_TARGET_DIR:-target}/release
BENCH_DIR=${COFFER_BENCH_DIR:-$HOME/.cache/coffer-bench}
AK=COFFERLOADBENCH0001
SK=coffer/load+bench=0123456789abcdefghij
mkdir -p "$BENCH_DIR"
DATA=$(mktemp -d "$BENCH_DIR/sse-data.XXXXXX")
LOG=$(mktemp /tmp/coffer-sse.XXXXXX)
COFFER_ROOT_ACCESS_KEY=$AK COFFER_ROOT_SECRET_KEY=$SK \
    "$BIN/coffer" server --data-dir "$DATA" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 600); do
    EP=$(grep -o "S3 API listening on http://[0-9.:]*[0-9]" "$LOG" | head -1 | sed 's|.* ||') || true
    [ -n "$EP" ] && break
    sleep 0.1
done

mib() { python3 -c 'import json,sys; r=json.load(sys.stdin); o=r["operations"][0]; assert r["total_errors"]==0, r["errors"]; print("%.1f" % o["mib_per_sec"])'; }
run() { # OP SSE(0/1) -> MiB/s
    local extra=()
    [ "$2" = 1 ] && extra=(--sse AES256)
    local prefill=()
    [ "$1" = get ] && prefill=(--prefill 16)
    "$BIN/coffer-load" --endpoint "$EP" --access-key $AK --secret-key $SK --json --duration "$DURATION" \
        --op "$1" --size 64MiB --concurrency 4 --bucket "sse-bench-$2" "${prefill[@]}" "${extra[@]}" | mib
}

for op in put get; do
    plain=0 sse=0
    for r in $(seq 1 "$ROUNDS"); do
        p=$(run "$op" 0); s=$(run "$op" 1)
        echo "$op round $r: plain $p MiB/s, SSE-S3 $s MiB/s"
        plain=$(python3 -c "print($plain+$p)"); sse=$(python3 -c "print($sse+$s)")
    done
    python3 -c "print('$op 64MiB c=4: SSE-S3 / plain = %.0f%%' % (100*$sse/$plain))"
done
