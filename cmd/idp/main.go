// Command idp is the OpenID Connect provider: `idp serve` runs it, and the
// other subcommands administer its database (see CONTRACT.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"idp/audit"
)

// stdio is what a command reads and writes, so tests can run commands
// in-process.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// now, if set, is the commands' clock (Config.Now); tests set it.
	now func() time.Time
}

// command is one subcommand; run gets the arguments after its name.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, s stdio) error
}

func commands() []command {
	return []command{
		{"serve", "run the provider", runServe},
		{"migrate", "apply pending database migrations and bootstrap signing keys", runMigrate},
		{"users", "manage users: create, invite, list, disable, set-password", runUsers},
		{"clients", "manage OAuth clients: create, list, delete", runClients},
		{"resources", "manage APIs tokens are issued for: create, list, update, delete", runResources},
		{"upstreams", "manage the providers people may sign in with: create, list, update, delete", runUpstreams},
		{"keys", "manage signing keys: list, rotate, revoke", runKeys},
		{"audit", "read the audit log: list", runAudit},
		{"healthcheck", "exit 0 if the server's /readyz answers 200 (for container health checks)", runHealthcheck},
		{"backup", "write a consistent copy of a SQLite database while it is in use: backup --to FILE", runBackup},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its error into one line on
// stderr and a non-zero exit code.
func run(ctx context.Context, args []string, s stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(s.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		cctx := ctx
		if c.name != "serve" {
			// Everything an admin command changes is audited as done by
			// the operating-system user through the CLI.
			cctx = audit.WithActor(ctx, audit.Actor{Name: cliActor(), Via: audit.ViaCLI})
		}
		err := c.run(cctx, args[1:], s)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintln(s.err, "idp: "+oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(s.err, "idp: unknown command %q (see idp --help)\n", args[0])
	return 2
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "idp — an OpenID Connect identity provider\n\nUsage: idp COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun idp COMMAND --help for the flags of a command. Every flag also has an IDP_* environment variable; a flag wins over the environment.")
}

// oneLine folds a multi-line error (errors.Join) into one line.
func oneLine(s string) string {
	// A line ending in a colon introduces the next (pgx does this).
	s = strings.ReplaceAll(s, ":\n", ": ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// cliActor names the operating-system user running an admin command.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}
