package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"idp/keys"
	"idp/templates"
)

func runKeys(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"list": keysList, "rotate": keysRotate, "revoke": keysRevoke,
	}
	return dispatch(ctx, "keys", "list|rotate|revoke", sub, args, s)
}

// keyRow is the list form of a key, JSON and table alike. SignsFrom is
// when the key may sign; NotAfter when a retired key leaves the JWKS.
type keyRow struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	State       string `json:"state"`
	Created     string `json:"created_at"`
	SignsFrom   string `json:"signs_from,omitempty"`
	Activated   string `json:"activated_at,omitempty"`
	Retired     string `json:"retired_at,omitempty"`
	SignedUntil string `json:"signed_until,omitempty"`
	NotAfter    string `json:"not_after,omitempty"`
}

func toRow(k keys.Key) keyRow {
	f := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(timeFormat)
	}
	return keyRow{k.KID, k.Alg, k.State, k.CreatedAt.UTC().Format(timeFormat), f(k.SignsFrom), f(k.ActivatedAt),
		f(k.RetiredAt), f(k.SignedUntil), f(k.NotAfter)}
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
	list, err := e.Keys.List(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	rows := make([]keyRow, 0, len(list))
	for _, k := range list {
		rows = append(rows, toRow(k))
	}
	dash := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	err = printList(s, *asJSON, rows, "KID\tALG\tSTATE\tCREATED\tSIGNS-FROM\tNOT-AFTER", func(r keyRow) string {
		return strings.Join([]string{r.KID, r.Alg, r.State, r.Created, dash(r.SignsFrom), dash(r.NotAfter)}, "\t")
	})
	if err != nil || *asJSON {
		return err
	}
	return printPolicies(ctx, e, s)
}

// printPolicies lists, below the keys, the serving processes whose
// recorded settings the schedule follows, and warns on stderr when running
// processes disagree.
func printPolicies(ctx context.Context, e *env, s stdio) error {
	ps, err := e.Keys.Policies(ctx)
	if err != nil {
		return err
	}
	now := e.cfg.now()
	var live []keys.Policy
	for _, p := range ps {
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
	if w := keys.Disagreement(ps, now); w != "" {
		fmt.Fprintln(s.err, "warning: "+w)
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
		r, err := e.Keys.Rotate(ctx, a, *force)
		var early *keys.TooEarlyError
		switch {
		case errors.As(err, &early):
			errs = append(errs, fmt.Errorf("rotate %s refused: %w (use --force to rotate anyway)", a, err))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("rotate %s: %w", a, err))
			continue
		}
		fmt.Fprintf(s.out, "%s: %s is now active; %s retired (published until %s); %s published as next\n",
			a, r.Activated.KID, r.Retired.KID, toRow(r.Retired).NotAfter, r.Next.KID)
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
	k, err := e.Keys.Revoke(ctx, kid)
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
