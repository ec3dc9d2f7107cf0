#!/usr/bin/env bash
# Runs coffer-load against a baseline (coffer-ceiling, or a Garage server)
# and a real `coffer server`, side by side in the same run, for the issue's
# workloads, and prints one line per workload with both figures, the ratio
# (Coffer ÷ baseline) and Coffer's peak RSS (VmHWM).
#
# Usage: bench/scripts/compare.sh [DURATION] [WORKLOAD...]
#   DURATION   per workload and server (default 15s)
#   WORKLOAD   any of put4k get4k head4k put64m get64m (default: all)
# Environment: CARGO_TARGET_DIR (where the release binaries are),
#   ROUNDS (default 1: ceiling and coffer run alternately this many times per
#   workload, each pair a row, then the median ratio; the machine is shared
#   and a single pair can be off by a quarter),
#   BASELINE (ceiling, the default, or garage: a single-node Garage built
#   outside this repository, binary in GARAGE_BIN; one copy of each object,
#   LMDB metadata, metadata_fsync and data_fsync on, compression off),
#   COFFER_BENCH_DIR (data directory parent, default ~/.cache/coffer-bench),
#   OUT (directory for the JSON reports, default a new temp dir).
set -euo pipefail

DURATION=${1:-15s}
shift || true
WORKLOADS=${*:-put4k get4k head4k put64m get64m}
ROUNDS=${ROUNDS:-1}
BASELINE=${BASELINE:-ceiling}
BIN=${CARGO_TARGET_DIR:-target}/release
BENCH_DIR=${COFFER_BENCH_DIR:-$HOME/.cache/coffer-bench}
OUT=${OUT:-$(mktemp -d /tmp/coffer-compare.XXXXXX)}
AK=COFFERLOADBENCH0001
SK=coffer/load+bench=0123456789abcdefghij
mkdir -p "$BENCH_DIR" "$OUT"

wait_line() { # FILE PATTERN -> prints the endpoint
    for _ in $(seq 1 600); do
        local ep
        ep=$(grep -o "$2 http://[0-9.:]*[0-9]" "$1" 2>/dev/null | head -1 | sed 's|.* ||') || true
        if [ -n "$ep" ]; then
            echo "$ep"
            return 0
        fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2
    return 1
}

hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

start_ceiling() {
    "$BIN/coffer-ceiling" --listen 127.0.0.1:0 > "$OUT/ceiling.log" 2>&1 &
    BASE_PID=$!
    BASE=$(wait_line "$OUT/ceiling.log" "listening on")
    BASE_AK=any BASE_SK=thing
}

start_garage() {
    GDIR=$(mktemp -d "$BENCH_DIR/garage.XXXXXX")
    local port=$((20000 + RANDOM % 20000))
    cat > "$GDIR/garage.toml" <<EOT
metadata_dir = "$GDIR/meta"
data_dir = "$GDIR/data"
db_engine = "lmdb"
replication_factor = 1
metadata_fsync = true
data_fsync = true
compression_level = "none"
rpc_bind_addr = "127.0.0.1:$((port + 1))"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"
EOT
    g() { "$GARAGE_BIN" -c "$GDIR/garage.toml" "$@"; }
    # Without its per-request INFO lines (as Coffer logs requests at debug).
    RUST_LOG=${GARAGE_LOG:-warn} g server > "$OUT/garage.log" 2>&1 &
    BASE_PID=$!
    for _ in $(seq 1 100); do g status > /dev/null 2>&1 && break; sleep 0.1; done
    g layout assign -z dc1 -c 10G "$(g node id -q | cut -d@ -f1)" > /dev/null
    g layout apply --version 1 > /dev/null
    local key
    key=$(g key create coffer-bench)
    BASE_AK=$(echo "$key" | awk '/Key ID:/ {print $3}')
    BASE_SK=$(echo "$key" | awk '/Secret key:/ {print $3}')
    g key allow --create-bucket coffer-bench > /dev/null
    BASE=http://127.0.0.1:$port
}

start_baseline() {
    case $BASELINE in
        ceiling) start_ceiling ;;
        garage) start_garage ;;
        *) echo "unknown BASELINE $BASELINE" >&2; exit 2 ;;
    esac
}

start_coffer() {
    DATA=$(mktemp -d "$BENCH_DIR/load-data.XXXXXX")
    COFFER_ROOT_ACCESS_KEY=$AK COFFER_ROOT_SECRET_KEY=$SK \
        "$BIN/coffer" server --data-dir "$DATA" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        > "$OUT/coffer.log" 2>&1 &
    COFFER_PID=$!
    COFFER=$(wait_line "$OUT/coffer.log" "S3 API listening on")
}

stop() {
    [ -n "${BASE_PID:-}" ] && kill "$BASE_PID" 2>/dev/null && wait "$BASE_PID" 2>/dev/null || true
    [ -n "${COFFER_PID:-}" ] && kill "$COFFER_PID" 2>/dev/null && wait "$COFFER_PID" 2>/dev/null || true
    [ -n "${DATA:-}" ] && rm -rf "$DATA"
    [ -n "${GDIR:-}" ] && rm -rf "$GDIR"
    BASE_PID= COFFER_PID= DATA= GDIR=
}
trap stop EXIT

args_for() {
    case $1 in
        put4k) echo "--op put --size 4KiB --concurrency 32" ;;
        get4k) echo "--op get --size 4KiB --concurrency 32 --prefill 2000" ;;
        head4k) echo "--op head --size 4KiB --concurrency 32 --prefill 2000" ;;
        put64m) echo "--op put --size 64MiB --concurrency 4" ;;
        get64m) echo "--op get --size 64MiB --concurrency 4 --prefill 16" ;;
        *) echo "unknown workload $1" >&2; exit 2 ;;
    esac
}

summary() { # JSON -> "ops/s MiB/s p50 p99 errors"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); o=r["operations"][0]
print("%.0f %.1f %.2f %.2f %d" % (o["ops_per_sec"], o["mib_per_sec"], o["latency_ms"]["p50"], o["latency_ms"]["p99"], r["total_errors"]))' "$1"
}

printf '%-8s | %-34s | %-34s | %-6s | %s\n' workload "$BASELINE ops/s MiB/s p50 p99 err" "coffer ops/s MiB/s p50 p99 err" ratio "coffer VmHWM MiB"
for w in $WORKLOADS; do
    # One fresh server of each kind per workload, so RSS and data are per workload.
    start_baseline
    start_coffer
    ratios=()
    for r in $(seq 1 "$ROUNDS"); do
        tag=$w; [ "$ROUNDS" -gt 1 ] && tag="$w#$r"
        # shellcheck disable=SC2046
        "$BIN/coffer-load" --endpoint "$BASE" --access-key "$BASE_AK" --secret-key "$BASE_SK" --json \
            --duration "$DURATION" $(args_for "$w") > "$OUT/$tag-$BASELINE.json" || true
        # shellcheck disable=SC2046
        "$BIN/coffer-load" --endpoint "$COFFER" --access-key $AK --secret-key $SK --json --duration "$DURATION" \
            $(args_for "$w") > "$OUT/$tag-coffer.json" || true
        RSS=$(( $(hwm "$COFFER_PID") / 1024 ))
        if ! [ -s "$OUT/$tag-$BASELINE.json" ] || ! [ -s "$OUT/$tag-coffer.json" ]; then
            echo "$tag: a run failed (see $OUT)"; continue
        fi
        read -r c_ops c_mib c50 c99 cerr < <(summary "$OUT/$tag-$BASELINE.json")
        read -r s_ops s_mib s50 s99 serr < <(summary "$OUT/$tag-coffer.json")
        case $w in *64m) ratio=$(python3 -c "print('%.0f' % (100*$s_mib/max($c_mib,1e-9)))") ;;
            *) ratio=$(python3 -c "print('%.0f' % (100*$s_ops/max($c_ops,1e-9)))") ;; esac
        ratios+=("$ratio")
        printf '%-8s | %-34s | %-34s | %-6s | %s\n' "$tag" "$c_ops $c_mib $c50 $c99 $cerr" "$s_ops $s_mib $s50 $s99 $serr" "$ratio%" "$RSS"
    done
    if [ "$ROUNDS" -gt 1 ] && [ ${#ratios[@]} -gt 0 ]; then
        median=$(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c 'import sys; v=[int(x) for x in sys.stdin]; print(v[len(v)//2] if len(v)%2 else (v[len(v)//2-1]+v[len(v)//2])//2)')
        printf '%-8s | %-34s | %-34s | %-6s | %s\n' "$w" "median of ${#ratios[@]} rounds" "(${ratios[*]})" "$median%" "$RSS"
    fi
    stop
done
echo "JSON reports in $OUT"
