#!/usr/bin/env bash
# bench.sh prepares a throwaway idp with idp's own admin commands, serves it
# on 127.0.0.1, runs bin/idpbench against it with the arguments given, stops
# the server and scans its log for 5xx answers and "database is locked".
# idpbench itself never touches the database.
#
#   cmd/idpbench/bench.sh --scenario jwks,discovery --reference
#
# Environment:
#   BENCH_DATABASE      postgres:// URL of an empty database (default: SQLite in a temp dir)
#   BENCH_ADDR          listen address (default 127.0.0.1:18080)
#   BENCH_BARE_ADDR     with --reference: where `idpbench bare` serves the bare handler in a
#                       process of its own (default 127.0.0.1:18090)
#   BENCH_SERVE_FLAGS   extra flags for `idp serve` (e.g. --refresh-reuse-grace 0s)
#   BENCH_IDP           the idp binary to serve and prepare with (default bin/idp), to compare builds
#   BENCH_KEEP          1: keep the temp dir (database, server log)
#   BENCH_WEB_ALG       signing alg of the browser-flow client (default ES256; RS256 makes
#                       refresh, code and sso measure RSA signing more than idp)
# Run from the repository root after building bin/idp and bin/idpbench.
set -euo pipefail

addr=${BENCH_ADDR:-127.0.0.1:18080}
issuer="http://$addr"
dir=$(mktemp -d "${TMPDIR:-/tmp}/idpbench.XXXXXX")
server_pid=""
bare_pid=""

cleanup() {
    if [[ -n "$bare_pid" ]] && kill -0 "$bare_pid" 2>/dev/null; then
        kill -TERM "$bare_pid" && wait "$bare_pid" || true
    fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" && wait "$server_pid" || true
    fi
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "bench: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

export IDP_DATABASE="${BENCH_DATABASE:-$dir/idp.db}"
if [[ "$IDP_DATABASE" == postgres* && -z "${IDP_MASTER_KEY_FILE:-}" ]]; then
    head -c 32 /dev/urandom >"$dir/master.key"
    chmod 600 "$dir/master.key"
    export IDP_MASTER_KEY_FILE="$dir/master.key"
fi

idp=${BENCH_IDP:-bin/idp}

secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
password="load password $(secret)"
web_secret=$(secret)
rs_secret=$(secret)
es_secret=$(secret)

"$idp" migrate >/dev/null
printf '%s' "$password" | "$idp" users create --email bench@example.com --name Bench --password-stdin >/dev/null
printf '%s' "$rs_secret" | "$idp" clients create --id bench-rs --signing-alg RS256 --secret-stdin \
    --grant-type client_credentials --scope api:read >/dev/null
printf '%s' "$es_secret" | "$idp" clients create --id bench-es --signing-alg ES256 --secret-stdin \
    --grant-type client_credentials --scope api:read >/dev/null
# The browser-flow client: trusted (no consent page), offline_access, and a
# redirect URI that is never contacted (idpbench reads the Location header).
printf '%s' "$web_secret" | "$idp" clients create --id bench-web --trusted --secret-stdin --signing-alg "${BENCH_WEB_ALG:-ES256}" \
    --redirect-uri http://127.0.0.1:1/cb --grant-type authorization_code --grant-type refresh_token \
    --scope openid --scope profile --scope email --scope offline_access >/dev/null

# wait_up URL PID LOG: wait until URL answers; if PID dies first, show LOG and fail.
wait_up() {
    for _ in $(seq 1 100); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
        sleep 0.1
    done
}

# shellcheck disable=SC2086
"$idp" serve --addr "$addr" --issuer "$issuer" --log-format json ${BENCH_SERVE_FLAGS:-} >"$dir/serve.log" 2>&1 &
server_pid=$!
wait_up "$issuer/readyz" "$server_pid" "$dir/serve.log"

# With --reference, the bare handler also runs in a process of its own, so
# that idp can be compared with it across the same process boundary.
bare_args=()
if [[ " $* " == *" --reference "* ]]; then
    bare_addr=${BENCH_BARE_ADDR:-127.0.0.1:18090}
    bin/idpbench bare --issuer "$issuer" --addr "$bare_addr" 2>>"$dir/bare.log" &
    bare_pid=$!
    wait_up "http://$bare_addr/metrics" "$bare_pid" "$dir/bare.log"
    bare_args=(--bare-url "http://$bare_addr")
fi

grace=10s
if [[ "${BENCH_SERVE_FLAGS:-}" =~ --refresh-reuse-grace[=\ ]([^ ]+) ]]; then
    grace=${BASH_REMATCH[1]}
fi

set +e
bin/idpbench --issuer "$issuer" --user bench@example.com --password "$password" \
    --client-id bench-web --client-secret "$web_secret" --redirect-uri http://127.0.0.1:1/cb \
    --cc-client "bench-rs:$rs_secret" --cc-client "bench-es:$es_secret" \
    --refresh-reuse-grace "$grace" "${bare_args[@]}" "$@"
rc=$?
set -e

kill -TERM "$server_pid" && wait "$server_pid" || true
server_pid=""
fivexx=$(grep -c '"status":5[0-9][0-9]' "$dir/serve.log" || true)
locked=$(grep -ci 'database is locked' "$dir/serve.log" || true)
echo "server log: $fivexx responses with status 5xx, $locked lines with \"database is locked\""
if [[ "$fivexx" != 0 || "$locked" != 0 ]]; then
    grep -m5 -iE '"status":5[0-9][0-9]|database is locked|"level":"ERROR"' "$dir/serve.log" || true
    rc=1
fi
exit "$rc"
