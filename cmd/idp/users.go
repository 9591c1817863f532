package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"idp/admin"
	"idp/audit"
)

// actorOf is who runs an admin command, as run put it into ctx: the
// operating-system user, through the CLI.
func actorOf(ctx context.Context) admin.Actor { return audit.ActorFrom(ctx) }

func runUsers(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"create": usersCreate, "list": usersList, "disable": usersDisable, "enable": usersEnable,
		"set-password": usersSetPassword, "sessions": usersSessions, "update": usersUpdate, "unlock": usersUnlock,
		"reset-mfa": usersResetMFA, "invite": usersInvite,
	}
	return dispatch(ctx, "users", "create|invite|list|update|disable|enable|unlock|set-password|reset-mfa|sessions", sub, args, s)
}

// dispatch runs the subcommand named by args[0] from sub.
func dispatch(ctx context.Context, group, names string, sub map[string]func(context.Context, []string, stdio) error, args []string, s stdio) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(s.err, "Usage: idp %s %s [flags]\nRun idp %s SUBCOMMAND --help for its flags.\n", group, names, group)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	f, ok := sub[args[0]]
	if !ok {
		// A usage error like an unknown top-level command: one line, exit 2.
		fmt.Fprintf(s.err, "idp: unknown command \"%s %s\" (want one of %s; see idp %s --help)\n", group, args[0], names, group)
		return errUsage
	}
	return f(ctx, args[1:], s)
}

func usersCreate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users create", "users create --email E --password-stdin [--name N] [--role R]... [--email-verified]", adminSettings()...)
	email := fs.String("email", "", "email address the user signs in with (required)")
	verified := fs.Bool("email-verified", false, "record the address as verified (you vouch for it); otherwise the user is mailed a link to verify it, sent by idp serve when it has --smtp-url")
	name := fs.String("name", "", "display name")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin (required)")
	var roles multi
	fs.Var(&roles, "role", "role granted to the user, repeatable (e.g. --role admin)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" || !*pwStdin {
		return fmt.Errorf("users create needs --email and --password-stdin")
	}
	pw, err := readSecret(s.in, "password")
	if err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	u, err := e.Admin.CreateUser(ctx, actorOf(ctx), admin.NewUser{Email: *email, Password: pw, Name: *name, Roles: roles, EmailVerified: *verified})
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	fmt.Fprintln(s.out, u.ID)
	return nil
}

// usersInvite creates a user without a password and queues the mail with
// the link to set one; idp serve with --smtp-url sends it.
func usersInvite(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users invite", "users invite --email E [--name N] [--role R]...", adminSettings()...)
	email := fs.String("email", "", "email address to invite (required); the invitee signs in with it")
	name := fs.String("name", "", "display name")
	var roles multi
	fs.Var(&roles, "role", "role granted to the user, repeatable (e.g. --role admin)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users invite needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	u, err := e.Admin.InviteUser(ctx, actorOf(ctx), admin.NewUser{Email: *email, Name: *name, Roles: roles})
	if err != nil {
		return fmt.Errorf("invite user: %w", err)
	}
	fmt.Fprintln(s.out, u.ID)
	return nil
}

func usersList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users list", "users list [--json]", adminSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	list, err := e.Admin.Users(ctx)
	if err != nil {
		return err
	}
	return printList(s, *asJSON, list, "ID\tEMAIL\tNAME\tROLES\tDISABLED\tFACTORS\tCREATED", func(u admin.User) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%t\t%s\t%s", u.ID, u.Email, u.Name, strings.Join(u.Roles, ","), u.Disabled,
			strings.Join(u.Factors, ","), u.Created)
	})
}

func usersDisable(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users disable", "users disable --email E", adminSettings()...)
	email := fs.String("email", "", "email of the user to disable (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users disable needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if _, err := e.Admin.DisableUser(ctx, actorOf(ctx), admin.UserRef{Email: *email}); err != nil {
		return fmt.Errorf("disable user %s: %w", *email, err)
	}
	fmt.Fprintf(s.out, "disabled %s\n", *email)
	return nil
}

func usersSetPassword(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users set-password", "users set-password --email E --password-stdin", adminSettings()...)
	email := fs.String("email", "", "email of the user (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the new password from stdin (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" || !*pwStdin {
		return fmt.Errorf("users set-password needs --email and --password-stdin")
	}
	pw, err := readSecret(s.in, "password")
	if err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.Admin.SetPassword(ctx, actorOf(ctx), *email, pw); err != nil {
		return fmt.Errorf("set password of %s: %w", *email, err)
	}
	fmt.Fprintf(s.out, "password changed for %s\n", *email)
	return nil
}

const timeFormat = admin.TimeFormat

// printList prints rows as JSON, or as an aligned table under header with
// one tab-separated line per row.
func printList[T any](s stdio, asJSON bool, rows []T, header string, line func(T) string) error {
	if asJSON {
		return printJSON(s, rows)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	return tw.Flush()
}

// printJSON writes v as indented JSON.
func printJSON(s stdio, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func usersEnable(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users enable", "users enable --email E", adminSettings()...)
	email := fs.String("email", "", "email of the user to enable (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users enable needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if _, err := e.Admin.EnableUser(ctx, actorOf(ctx), admin.UserRef{Email: *email}); err != nil {
		return fmt.Errorf("enable user %s: %w", *email, err)
	}
	fmt.Fprintf(s.out, "enabled %s\n", *email)
	return nil
}

// usersSessions lists what a user holds: live sessions and offline grants.
func usersSessions(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users sessions", "users sessions --email E [--json]", adminSettings()...)
	email := fs.String("email", "", "email of the user (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users sessions needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	acc, err := e.Admin.UserAccess(ctx, admin.UserRef{Email: *email})
	if err != nil {
		return fmt.Errorf("sessions of %s: %w", *email, err)
	}
	if *asJSON {
		return printJSON(s, acc)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tCLIENT\tCREATED\tLAST USED\tADDRESS\tUSER AGENT")
	for _, x := range acc.Sessions {
		fmt.Fprintf(tw, "session\t%s\t-\t%s\t%s\t%s\t%s\n", x.ID, x.Created, x.LastSeen, x.IP, x.Agent)
	}
	for _, g := range acc.Grants {
		fmt.Fprintf(tw, "grant\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.ClientID, g.Created, g.LastUsed, g.IP, g.Agent)
	}
	return tw.Flush()
}

// usersUpdate changes a user's name and roles; what is not given stays.
func usersUpdate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users update", "users update --email E [--name N] [--role R]... [--no-roles]", adminSettings()...)
	email := fs.String("email", "", "email of the user (required)")
	name := fs.String("name", "", "new display name")
	noRoles := fs.Bool("no-roles", false, "remove every role")
	var roles multi
	fs.Var(&roles, "role", "the user's roles from now on, repeatable (replaces the current ones)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	var up admin.UserUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			up.Name = name
		case "role":
			r := []string(roles)
			up.Roles = &r
		}
	})
	if *noRoles {
		if up.Roles != nil {
			return fmt.Errorf("users update: --role and --no-roles contradict each other")
		}
		up.Roles = &[]string{}
	}
	if *email == "" || (up.Name == nil && up.Roles == nil) {
		return fmt.Errorf("users update needs --email and at least one of --name, --role, --no-roles")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	u, err := e.Admin.UpdateUser(ctx, actorOf(ctx), admin.UserRef{Email: *email}, up)
	if err != nil {
		return fmt.Errorf("update user %s: %w", *email, err)
	}
	fmt.Fprintf(s.out, "updated %s: name %q, roles %s\n", u.Email, u.Name, strings.Join(u.Roles, ","))
	return nil
}

// usersUnlock forgets the failed sign-ins counted against a user.
func usersUnlock(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users unlock", "users unlock --email E", adminSettings()...)
	email := fs.String("email", "", "email of the user to unlock (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users unlock needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	n, err := e.Admin.UnlockUser(ctx, actorOf(ctx), admin.UserRef{Email: *email})
	if err != nil {
		return fmt.Errorf("unlock user %s: %w", *email, err)
	}
	fmt.Fprintf(s.out, "unlocked %s (%d failure counters cleared)\n", *email, n)
	return nil
}

// usersResetMFA removes a user's second factors (a lost phone or key):
// passkeys, authenticator app and recovery codes, audited, and ends their
// sessions.
func usersResetMFA(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "users reset-mfa", "users reset-mfa --email E", adminSettings()...)
	email := fs.String("email", "", "email of the user (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("users reset-mfa needs --email")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	removed, err := e.Admin.ResetMFA(ctx, actorOf(ctx), admin.UserRef{Email: *email})
	if err != nil {
		return fmt.Errorf("reset second factors of %s: %w", *email, err)
	}
	if !removed {
		fmt.Fprintf(s.out, "%s has no second factor; nothing changed\n", *email)
		return nil
	}
	fmt.Fprintf(s.out, "removed every second factor of %s and ended their sessions\n", *email)
	return nil
}
