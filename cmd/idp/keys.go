package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"idp/admin"
	"idp/keys"
	"idp/templates"
)

func runKeys(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"list": keysList, "rotate": keysRotate, "revoke": keysRevoke,
	}
	return dispatch(ctx, "keys", "list|rotate|revoke", sub, args, s)
}

func keysList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "keys list", "keys list [--json]", adminSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	ks, err := e.Admin.Keys(ctx)
	if err != nil {
		return err
	}
	err = printList(s, *asJSON, ks.Keys, "KID\tALG\tSTATE\tCREATED\tSIGNS-FROM\tNOT-AFTER", func(k admin.Key) string {
		return strings.Join([]string{k.KID, k.Alg, k.State, k.Created.String(), orDash(k.SignsFrom), orDash(k.NotAfter)}, "\t")
	})
	if err != nil || *asJSON {
		return err
	}
	return printPolicies(s, ks, e.cfg.now())
}

// orDash writes an optional time, or "-".
func orDash(t *admin.Time) string {
	if t == nil {
		return "-"
	}
	return t.String()
}

// printPolicies lists, below the keys, the serving processes whose
// recorded settings the schedule follows, and warns on stderr when running
// processes disagree.
func printPolicies(s stdio, ks admin.Keys, now time.Time) error {
	var live []keys.Policy
	for _, p := range ks.Policies {
		if p.Live(now) {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		fmt.Fprintln(s.out, "\nNo idp serve process is running on this database.")
		return nil
	}
	fmt.Fprintln(s.out, "\nRunning idp serve processes (the key schedule follows the most conservative):")
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tPID\tSTARTED\tJWKS-MAX-AGE\tROTATION\tTOKEN-TTL")
	for _, p := range live {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", p.Host, p.PID, p.StartedAt.Format(timeFormat),
			templates.Duration(p.JWKSMaxAge), templates.Duration(p.RotationInterval), templates.Duration(p.TokenTTL))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ks.Warning != "" {
		fmt.Fprintln(s.err, "warning: "+ks.Warning)
	}
	return nil
}

func keysRotate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "keys rotate", "keys rotate [--alg RS256|ES256] [--force]", adminSettings()...)
	alg := fs.String("alg", "", "rotate only this algorithm (default: both)")
	force := fs.Bool("force", false, "rotate even before the next key's signs-from time (relying services may reject new tokens until they refetch the JWKS)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	algs := keys.Algs
	if *alg != "" {
		if *alg != keys.RS256 && *alg != keys.ES256 {
			return fmt.Errorf("--alg must be RS256 or ES256, not %q", *alg)
		}
		algs = []string{*alg}
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	var errs []error
	for _, a := range algs {
		r, err := e.Admin.RotateKey(ctx, actorOf(ctx), a, *force)
		var early *admin.TooEarlyError
		switch {
		case errors.As(err, &early):
			errs = append(errs, fmt.Errorf("rotate %s refused: %w (use --force to rotate anyway)", a, err))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("rotate %s: %w", a, err))
			continue
		}
		retired, until := "no key", "-"
		if r.Retired != nil {
			retired, until = r.Retired.KID, orDash(r.Retired.NotAfter)
		}
		fmt.Fprintf(s.out, "%s: %s is now active; %s retired (published until %s); %s published as next\n",
			a, r.Activated.KID, retired, until, r.Next.KID)
	}
	return errors.Join(errs...)
}

func keysRevoke(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "keys revoke", "keys revoke KID", adminSettings()...)
	// A KID is a base64url thumbprint, so one in 64 begins with "-": an
	// argument naming no flag of this command is the KID, wherever it
	// stands, so `keys revoke KID --database X` works too.
	flags, kids := splitPositional(fs.FlagSet, args)
	if err := parse(fs.FlagSet, flags); err != nil {
		return err
	}
	if len(kids) != 1 {
		return fmt.Errorf("keys revoke needs exactly one KID, got %d (%s)", len(kids), strings.Join(kids, " "))
	}
	kid := kids[0]
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	k, err := e.Admin.RevokeKey(ctx, actorOf(ctx), kid)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", kid, err)
	}
	fmt.Fprintf(s.out, "revoked %s (%s): it left the JWKS and tokens it signed no longer verify\n", k.KID, k.Alg)
	return nil
}

func runMigrate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "migrate", "migrate", adminSettings()...)
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s) // migrates and bootstraps keys
	if err != nil {
		return err
	}
	defer e.close()
	v, err := e.DB.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "database at migration version %d\n", v)
	return nil
}
