// Command idpbench drives load against a running idp over HTTP, the way
// relying services and browsers do, and reports throughput, latency and
// every kind of error it saw. It never touches the database: the users and
// clients it needs are created beforehand with `idp users create` and
// `idp clients create` (see `idpbench setup` and docs/PERFORMANCE.md).
//
// With --reference it also measures, in the same invocation and for the same
// duration, what the machine can do without idp in the way: a bare net/http
// handler serving the same JWKS and discovery bytes, raw go-jose signing and
// raw argon2id hashing, and prints idp's figures as ratios of those.
// `idpbench bare` serves that bare handler in a process of its own; with
// --bare-url the JWKS and discovery runs are also compared with it.
//
// `idpbench compare` prints the --json output of runs against several
// servers side by side (bench/side-by-side.sh: idp and node-oidc-provider).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code. 0 means every
// measured request succeeded and every refresh chain kept its reuse
// detection; 1 means errors were seen; 2 is a usage error.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) > 0 && args[0] == "setup" {
		_, _ = io.WriteString(out, setupHelp)
		return 0
	}
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], out, errOut)
	}
	if len(args) > 0 && args[0] == "bare" {
		if err := serveBare(ctx, args[1:], errOut); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(errOut, "idpbench bare: %v\n", err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, errOut)
	if err != nil {
		if err == errHelp {
			return 0
		}
		fmt.Fprintf(errOut, "idpbench: %v\n", err)
		return 2
	}
	cfg.Out = out
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(errOut, "idpbench: %v\n", err)
		return 1
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// setupHelp is what `idpbench setup` prints: idpbench never writes to the
// database itself, so the operator prepares the users and clients with
// idp's own admin commands.
const setupHelp = `idpbench does not touch the database. Prepare a provider with idp's own commands
(this is what 'make bench' does):

  dir=$(mktemp -d)
  export IDP_DATABASE=$dir/idp.db            # or a postgres:// URL plus IDP_MASTER_KEY_FILE
  bin/idp migrate
  printf '%s' 'load password 1234' | bin/idp users create --email bench@example.com --password-stdin
  printf '%s' "$RS_SECRET" | bin/idp clients create --id bench-rs --signing-alg RS256 --secret-stdin \
      --grant-type client_credentials --scope api:read
  printf '%s' "$ES_SECRET" | bin/idp clients create --id bench-es --signing-alg ES256 --secret-stdin \
      --grant-type client_credentials --scope api:read
  printf '%s' "$WEB_SECRET" | bin/idp clients create --id bench-web --trusted --secret-stdin \
      --redirect-uri http://127.0.0.1:1/cb --grant-type authorization_code --grant-type refresh_token \
      --scope openid --scope profile --scope email --scope offline_access
  bin/idp serve --addr 127.0.0.1:8080 --issuer http://127.0.0.1:8080 &

  bin/idpbench --issuer http://127.0.0.1:8080 --user bench@example.com --password 'load password 1234' \
      --client-id bench-web --client-secret "$WEB_SECRET" --redirect-uri http://127.0.0.1:1/cb \
      --cc-client "bench-rs:$RS_SECRET" --cc-client "bench-es:$ES_SECRET" \
      --scenario jwks,discovery,client_credentials,refresh,code,sso,userinfo --reference

With --reference, 'make bench' also starts the bare handler in a process of its own
(idpbench bare --issuer http://127.0.0.1:8080 --addr 127.0.0.1:18090) and passes
--bare-url http://127.0.0.1:18090, so that idp is also compared with it across the same
process boundary.

The redirect URI is never contacted: idpbench reads the code from the Location header.
Secrets must be at least 32 bytes. --refresh-reuse-grace must match the server's setting
(default 10s) so the reuse check waits long enough.
`
