#!/usr/bin/env bash
# Issue 8: start-up time, RSS and Encrypt req/s with 10^3 and with 10^6 keys in a
# PostgreSQL store, and Encrypt req/s with one node vs two nodes on one PostgreSQL, in
# one run. Needs KMS_TEST_POSTGRES_URL (run under scripts/with-postgres), wrk and psql.
#
#   scripts/with-postgres bench/cluster_scale.sh            # BENCH_DURATION=10 by default
#
# The extra keys are fixture rows written by SQL in another account (metadata only, no
# material): start-up reads no key, and the Encrypt key is a real one created through the
# API, so only the store's size differs between the two runs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
KMS_BINARY="${KMS_BINARY:-$REPO/.build/release/kms}"
DURATION="${BENCH_DURATION:-10}"
SIZES="${BENCH_KEY_COUNTS:-1000 1000000}"
PY=python3
HELPER="$HERE/kmsbench.py"
LUA="$HERE/kms.lua"
: "${KMS_TEST_POSTGRES_URL:?run under scripts/with-postgres (KMS_TEST_POSTGRES_URL)}"
WORK="$(mktemp -d /tmp/kms-cluster-scale.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

. "$HERE/postgres.sh"  # db_url, psql_at
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# start_node NAME DATA_DIR PORT URL [ARGS...] -> prints "pid start_ms"
start_node() {
  local name="$1" dir="$2" port="$3" url="$4"; shift 4
  local t0; t0="$(now_ms)"
  "$KMS_BINARY" server --host 127.0.0.1 --port "$port" --data-dir "$dir" --storage "$url" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && { echo "$pid $(( $(now_ms) - t0 ))"; return; }
    sleep 0.05
  done
  cat "$WORK/$name.log" >&2; exit 1
}

wrk_rps() {  # wrk_rps REQ_FILE PORT THREADS CONNECTIONS -> req/s
  BENCH_REQUEST_FILE="$1" wrk -t"$3" -c"$4" -d"${DURATION}s" --timeout 5s -s "$LUA" "http://127.0.0.1:$2/" \
    | awk '/Requests\/sec/ { print $2 }'
}

echo "cluster_scale: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg), wrk ${DURATION}s, binary $KMS_BINARY"
printf '%-10s %12s %12s %12s %14s\n' keys "start ms" "RSS MiB" "Encrypt/s" "RSS after MiB"
for n in $SIZES; do
  db="kms_scale_$n"
  psql_at "$KMS_TEST_POSTGRES_URL" "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  psql_at "$KMS_TEST_POSTGRES_URL" "CREATE DATABASE $db"
  url="$(db_url "$db")"
  dir="$WORK/data-$n"; mkdir -m 700 -p "$dir"
  port="$("$PY" "$HELPER" freeport)"
  read -r pid _ < <(start_node "setup-$n" "$dir" "$port" "$url")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Fixture keys in another account (metadata rows only).
  psql_at "$url" "INSERT INTO keys (account, region, key_id, metadata, version)
    SELECT '999999999999', 'us-east-1', md5(i::text)::uuid::text,
      '{\"keyId\":\"x\",\"account\":\"999999999999\",\"region\":\"us-east-1\",\"creationDate\":1,\"description\":\"\",\"origin\":\"AWS_KMS\",\"keyManager\":\"CUSTOMER\",\"keyUsage\":\"ENCRYPT_DECRYPT\",\"keySpec\":\"SYMMETRIC_DEFAULT\",\"keyState\":\"Enabled\",\"policy\":\"{}\",\"tags\":[]}', 1
    FROM generate_series(1, $n) AS i"
  psql_at "$url" "VACUUM ANALYZE keys" >/dev/null
  read -r pid start_ms < <(start_node "node-$n" "$dir" "$port" "$url")
  rss0="$(rss_kib "$pid")"
  state="$WORK/state-$n.json"
  "$PY" "$HELPER" prepare --endpoint "http://127.0.0.1:$port" --credentials "$dir/credentials" --ops Encrypt --state "$state" >/dev/null
  "$PY" "$HELPER" sign --state "$state" --op Encrypt --out "$WORK/enc-$n.req" >/dev/null
  rps="$(wrk_rps "$WORK/enc-$n.req" "$port" 2 64)"
  rss1="$(rss_kib "$pid")"
  printf '%-10s %12s %12.1f %12s %14.1f\n' "$n" "$start_ms" "$(echo "$rss0/1024" | bc -l)" "$rps" "$(echo "$rss1/1024" | bc -l)"
  if [ "$n" = "$(echo "$SIZES" | awk '{ print $1 }')" ]; then
    # Two nodes on the same store, wrk spread over both (one wrk per node, half the connections each).
    dir2="$WORK/data-$n-b"; mkdir -m 700 -p "$dir2"; cp "$dir/credentials" "$dir2/"; chmod 600 "$dir2/credentials"
    port2="$("$PY" "$HELPER" freeport)"
    read -r pid2 _ < <(start_node "node-$n-b" "$dir2" "$port2" "$url" --root-key-file "$dir/root.key")
    "$PY" "$HELPER" sign --state "$state" --op Encrypt --endpoint "http://127.0.0.1:$port2" --out "$WORK/enc-b.req" >/dev/null
    "$PY" "$HELPER" sign --state "$state" --op Encrypt --out "$WORK/enc-a.req" >/dev/null
    wrk_rps "$WORK/enc-a.req" "$port" 1 32 >"$WORK/a.rps" &
    wa=$!
    wrk_rps "$WORK/enc-b.req" "$port2" 1 32 >"$WORK/b.rps"
    wait "$wa"
    echo "two nodes, $n keys: Encrypt/s node A $(cat "$WORK/a.rps") + node B $(cat "$WORK/b.rps") = $(echo "$(cat "$WORK/a.rps") + $(cat "$WORK/b.rps")" | bc -l)"
    kill "$pid2"; wait "$pid2" 2>/dev/null || true
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  psql_at "$KMS_TEST_POSTGRES_URL" "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
