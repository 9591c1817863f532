package main

import (
	"context"
	"fmt"
	"strings"

	"idp/admin"
	"idp/clients"
)

func runClients(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"create": clientsCreate, "list": clientsList, "delete": clientsDelete, "update": clientsUpdate,
		"registration-token": clientsRegistrationToken,
	}
	return dispatch(ctx, "clients", "create|list|update|delete|registration-token", sub, args, s)
}

func clientsCreate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "clients create",
		"clients create --id ID --redirect-uri U [--redirect-uri U]... [--post-logout-redirect-uri U] [--public] [--secret-stdin] [--signing-alg RS256|ES256] [--trusted] [--require-mfa] [--require-verified-email] [--grant-type G]... [--scope S]... [--logo-uri U] [--client-uri U] [--policy-uri U] [--tos-uri U] [--contact E]... [--application-type web|native] [--token-endpoint-auth-method M] [--default-max-age D] [--require-auth-time] [--default-resource URI] [--require-par] [--backchannel-logout-uri U [--backchannel-logout-session-required]] [--frontchannel-logout-uri U [--frontchannel-logout-session-required]]",
		adminSettings()...)
	var spec clients.Spec
	var redirects, postLogout, grants, scopes multi
	fs.StringVar(&spec.ID, "id", "", "client id (required)")
	fs.StringVar(&spec.Name, "name", "", "name shown to users on sign-in and consent (default: the id)")
	fs.Var(&redirects, "redirect-uri", "exact redirect URI, repeatable")
	fs.Var(&postLogout, "post-logout-redirect-uri", "where end-session may send the user back, repeatable")
	fs.BoolVar(&spec.Public, "public", false, "public client: no secret, PKCE S256 required")
	secretStdin := fs.Bool("secret-stdin", false, "read the client secret (at least 32 bytes) from stdin instead of generating one")
	fs.StringVar(&spec.SigningAlg, "signing-alg", "RS256", "alg of this client's ID and access tokens: RS256 or ES256")
	fs.BoolVar(&spec.Trusted, "trusted", false, "first-party client: no consent screen")
	fs.BoolVar(&spec.RequireMFA, "require-mfa", false, "every sign-in for this client needs a second factor (passkey, authenticator app or recovery code)")
	fs.BoolVar(&spec.RequireVerifiedEmail, "require-verified-email", false, "users with an unverified email address are asked to verify it before a code is issued")
	fs.Var(&grants, "grant-type", "authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code, repeatable (default authorization_code and refresh_token)")
	fs.Var(&scopes, "scope", "scope the client may request, repeatable (default openid profile email offline_access; idp:admin only when named)")
	asJSON := fs.Bool("json", false, "print JSON")
	var m metadataFlags
	m.register(fs)
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if spec.ID == "" {
		return fmt.Errorf("clients create needs --id")
	}
	var err error
	if spec.Metadata, err = m.metadata(); err != nil {
		return err
	}
	spec.RedirectURIs, spec.PostLogoutRedirectURIs, spec.GrantTypes, spec.Scopes = redirects, postLogout, grants, scopes
	if *secretStdin {
		secret, err := readSecret(s.in, "client secret")
		if err != nil {
			return err
		}
		spec.Secret = secret
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	c, secret, err := e.Admin.CreateClient(ctx, actorOf(ctx), spec)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if *asJSON {
		out := map[string]any{"client_id": c.ID}
		if secret != "" && !*secretStdin {
			out["client_secret"] = secret
		}
		return printJSON(s, out)
	}
	fmt.Fprintf(s.out, "client_id: %s\n", c.ID)
	if secret != "" && !*secretStdin {
		fmt.Fprintf(s.out, "client_secret: %s\n", secret)
		fmt.Fprintln(s.err, "idp: the client secret is shown once; store it now")
	}
	return nil
}

func clientsList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "clients list", "clients list [--json]", adminSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	list, err := e.Admin.Clients(ctx)
	if err != nil {
		return err
	}
	return printList(s, *asJSON, list, "ID\tTYPE\tALG\tTRUSTED\tGRANTS\tREDIRECT URIS", func(c admin.Client) string {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		return fmt.Sprintf("%s\t%s\t%s\t%t\t%s\t%s", c.ID, kind, c.SigningAlg, c.Trusted,
			strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, " "))
	})
}

func clientsDelete(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "clients delete", "clients delete --id ID", adminSettings()...)
	id := fs.String("id", "", "client id (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("clients delete needs --id")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.Admin.DeleteClient(ctx, actorOf(ctx), *id); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "deleted %s\n", *id)
	return nil
}
