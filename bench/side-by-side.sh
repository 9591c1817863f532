#!/usr/bin/env bash
# side-by-side.sh measures idp and panva/node-oidc-provider 9 in one run,
# taking turns on this machine, with the same load generator
# (cmd/idpbench), scenarios, concurrency, duration and warm-up, and prints
# one table: ops/s, p50/p99, idp ÷ node against the 1.5× target, and the
# idle and peak RSS of each server. See docs/PERFORMANCE.md, "Side by side
# with node-oidc-provider 9".
#
#   bench/side-by-side.sh            # from the repository root
#
# Steps: build idp as the release and the image are built (-tags libcrypto
# -trimpath -ldflags='-s -w', toolchain $SIDE_TOOLCHAIN) and idpbench; npm ci
# in bench/node-oidc-provider; start idp on SQLite (a fresh temp dir), idp on
# PostgreSQL (a fresh database, when one answers) and node-oidc-provider, each
# read for VmRSS $SIDE_SETTLE s after it answers; then, per round and per
# scenario, run idpbench against each server in turn (so a change in the
# machine's load hits all of them alike; the idle ones use no CPU); read each
# server's VmHWM; stop them; print the table (medians over the rounds).
# Only 127.0.0.1 is contacted; everything is removed at the end.
#
# Environment:
#   SIDE_SCENARIOS    idpbench scenarios (default client_credentials,refresh)
#   SIDE_CONCURRENCY  workers (default 64)
#   SIDE_DURATION     measured time per scenario (default 10s)
#   SIDE_WARMUP       unmeasured time before each (default 2s)
#   SIDE_TOOLCHAIN    GOTOOLCHAIN of the idp build (default go1.27.3, as `make release`;
#                     "local" for the machine's own Go)
#   SIDE_POSTGRES     postgres:// URL of the server to create a throwaway database on
#                     (default postgres://postgres@127.0.0.1:5432; "off" to skip PostgreSQL)
#   SIDE_SETTLE       seconds between start-up and the idle RSS reading (default 2)
#   SIDE_ROUNDS       rounds of all scenarios against all servers (default 1); the table
#                     shows each figure's median round
#   SIDE_KEEP         1: keep the temp dir (JSON results, server logs)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scenarios=${SIDE_SCENARIOS:-client_credentials,refresh}
rounds=${SIDE_ROUNDS:-1}
common=(--concurrency "${SIDE_CONCURRENCY:-64}" --duration "${SIDE_DURATION:-10s}"
    --warmup "${SIDE_WARMUP:-2s}" --cc-scope api:read --json)
settle=${SIDE_SETTLE:-2}
pg_base=${SIDE_POSTGRES:-postgres://postgres@127.0.0.1:5432}

dir=$(mktemp -d "${TMPDIR:-/tmp}/side-by-side.XXXXXX")
chmod 700 "$dir"
declare -A pids idle addrs
servers=()
pg_db=""

cleanup() {
    for name in "${servers[@]}"; do
        stop_server "$name"
    done
    if [[ -n "$pg_db" ]]; then
        psql "$pg_base/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
    fi
    if [[ "${SIDE_KEEP:-0}" == 1 ]]; then
        echo "side-by-side: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

stop_server() {
    local pid=${pids[$1]:-}
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && wait "$pid" || true
    fi
    pids[$1]=""
}

# kib NAME FIELD: a /proc status field (VmRSS, VmHWM) of server NAME, in KiB.
kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/${pids[$1]}/status"; }

# started NAME PID URL: wait until URL answers (if the server dies first, show
# its log and fail), let it settle, read its idle RSS.
started() {
    pids[$1]=$2
    servers+=("$1")
    for _ in $(seq 1 150); do
        if curl -fsS "$3" >/dev/null 2>&1; then
            sleep "$settle"
            idle[$1]=$(kib "$1" VmRSS)
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { cat "$dir/$1.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "side-by-side: $3 did not answer" >&2
    exit 1
}

# free HOST:PORT: fail unless nothing listens there yet, so that a server
# another session left running is never measured in place of ours.
free() {
    if (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; then
        echo "side-by-side: $1 is already in use; stop what listens there first" >&2
        exit 1
    fi
}

secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "side-by-side: load average at start $(load) ($(nproc) CPUs), $(date -u +%FT%TZ)"

# --- builds -----------------------------------------------------------------
toolchain=${SIDE_TOOLCHAIN:-go1.27.3}
GOTOOLCHAIN=$toolchain CGO_ENABLED=1 go build -tags libcrypto -trimpath -ldflags="-s -w" -o "$dir/idp" ./cmd/idp
go build -o "$dir/idpbench" ./cmd/idpbench
(cd bench/node-oidc-provider && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node_version=$(node --version)
oidc_version=$(node -p 'require("./bench/node-oidc-provider/node_modules/oidc-provider/package.json").version')
echo "side-by-side: idp $(git rev-parse --short HEAD 2>/dev/null || echo '?') built with $(GOTOOLCHAIN=$toolchain go version | cut -d' ' -f3) -tags libcrypto; node-oidc-provider $oidc_version on Node.js $node_version"

cc_secret=$(secret)
web_secret=$(secret)
password="load password $(secret)"

# --- servers -----------------------------------------------------------------
# start_idp NAME ADDR DATABASE: prepare a fresh idp on DATABASE and serve it.
start_idp() {
    local name=$1 addr=$2
    free "$addr"
    export IDP_DATABASE=$3
    "$dir/idp" migrate >/dev/null 2>&1
    printf '%s' "$password" | "$dir/idp" users create --email bench@example.com --name Bench --password-stdin >/dev/null
    printf '%s' "$cc_secret" | "$dir/idp" clients create --id bench-rs --signing-alg RS256 --secret-stdin \
        --grant-type client_credentials --scope api:read >/dev/null
    printf '%s' "$web_secret" | "$dir/idp" clients create --id bench-web --trusted --secret-stdin --signing-alg RS256 \
        --redirect-uri http://127.0.0.1:1/cb --grant-type authorization_code --grant-type refresh_token \
        --scope openid --scope profile --scope email --scope offline_access >/dev/null
    "$dir/idp" serve --addr "$addr" --issuer "http://$addr" --log-format json >"$dir/$name.log" 2>&1 &
    started "$name" $! "http://$addr/readyz"
    unset IDP_DATABASE
    addrs[$name]=$addr
}

umask 077
start_idp idp 127.0.0.1:18080 "$dir/idp.db"
if [[ "$pg_base" != off ]] && pg_isready -q -d "$pg_base/postgres" 2>/dev/null; then
    pg_db="idp_side_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    psql "$pg_base/postgres?sslmode=disable" -qc "CREATE DATABASE $pg_db" >/dev/null
    head -c 32 /dev/urandom >"$dir/master.key"
    IDP_MASTER_KEY_FILE="$dir/master.key" start_idp idp-pg 127.0.0.1:18082 "$pg_base/$pg_db?sslmode=disable"
else
    echo "side-by-side: PostgreSQL off or not answering at $pg_base: idp runs on SQLite only" >&2
fi

# The clients' secrets go to node in a file, not on its command line.
printf '{"cc":{"id":"bench-rs","secret":"%s"},"web":{"id":"bench-web","secret":"%s"}}' \
    "$cc_secret" "$web_secret" >"$dir/clients.json"
free 127.0.0.1:18081
NODE_ENV=production BENCH_ISSUER=http://127.0.0.1:18081 BENCH_CLIENTS="$dir/clients.json" \
    node bench/node-oidc-provider/server.js >"$dir/node.log" 2>&1 &
started node $! http://127.0.0.1:18081/.well-known/openid-configuration
umask 022

# --- the runs ------------------------------------------------------------------
# bench NAME SCENARIO: one idpbench run against server NAME, appended to NAME.jsonl.
bench() {
    local name=$1 target=()
    if [[ "$name" == node ]]; then
        # Its refresh tokens come from the bench-only minting route (set-up
        # only); a reused refresh token revokes the grant at once (no grace).
        target=(--issuer http://127.0.0.1:18081 --refresh-token-url http://127.0.0.1:18081/bench/refresh-token
            --access-audience https://api.bench.invalid --refresh-reuse-grace 0s)
    else
        # idp signs the 64 users in for their refresh chains; its reuse
        # check waits out idp's default grace of 10s.
        target=(--issuer "http://${addrs[$name]}" --user bench@example.com --password "$password")
    fi
    "$dir/idpbench" "${target[@]}" --server-pid "${pids[$name]}" --client-id bench-web --client-secret "$web_secret" \
        --cc-client "bench-rs:$cc_secret" --scenario "$2" "${common[@]}" >>"$dir/$name.jsonl" || true
}

declare -A first_hwm
first=${scenarios%%,*}
for round in $(seq 1 "$rounds"); do
    for scenario in ${scenarios//,/ }; do
        for name in "${servers[@]}"; do
            echo "side-by-side: round $round/$rounds, $scenario against $name, load $(load)" >&2
            bench "$name" "$scenario"
            # The peak before any sign-in (idp's refresh set-up hashes 64
            # passwords with argon2id, 19 MiB each, which node never does).
            [[ $round == 1 && $scenario == "$first" ]] && first_hwm[$name]=$(kib "$name" VmHWM)
        done
    done
done

rss=()
runs=()
for name in "${servers[@]}"; do
    rss+=(--rss "$name=${idle[$name]}:$(kib "$name" VmHWM)")
    runs+=("$name=$dir/$name.jsonl")
    stop_server "$name"
done
for name in "${servers[@]}"; do
    [[ "$name" == node ]] && continue
    fivexx=$(grep -c '"status":5[0-9][0-9]' "$dir/$name.log" || true)
    if [[ "$fivexx" != 0 ]]; then
        echo "side-by-side: $name answered $fivexx times with a 5xx:" >&2
        grep -m3 '"status":5[0-9][0-9]' "$dir/$name.log" >&2 || true
    fi
done

# --- the table ----------------------------------------------------------------
echo
echo "concurrency ${SIDE_CONCURRENCY:-64}, ${SIDE_DURATION:-10s} per scenario after ${SIDE_WARMUP:-2s} of warm-up, $rounds round(s), servers in turn per scenario"
echo "RSS: VmRSS ${settle}s after start-up; peak: VmHWM after all runs (idp's includes the argon2id sign-ins of the refresh set-up)"
peaks=""
for name in "${servers[@]}"; do
    peaks+=" $name $(awk -v k="${first_hwm[$name]:-0}" 'BEGIN { printf "%.1f", k / 1024 }') MiB,"
done
echo "VmHWM after the first round of $first:${peaks%,}"
set +e
"$dir/idpbench" compare --versus node "${rss[@]}" "${runs[@]}"
rc=$?
set -e
echo "side-by-side: load average at end $(load), $(date -u +%FT%TZ)"
exit "$rc"
