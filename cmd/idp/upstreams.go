package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"strings"

	"idp/admin"
	"idp/upstreams"
)

// upstreamSettings are the admin settings: here --issuer is the
// upstream's, as the issue names it, so idp's own issuer (for the
// redirect URI to register at the upstream) comes from IDP_ISSUER.
func upstreamSettings() []setting { return adminSettings() }

func runUpstreams(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"create": upstreamsCreate, "list": upstreamsList, "update": upstreamsUpdate, "delete": upstreamsDelete,
	}
	return dispatch(ctx, "upstreams", "create|list|update|delete", sub, args, s)
}

// splitList reads a comma-separated flag value.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func upstreamsCreate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "upstreams create",
		`upstreams create --id ID --name "Display name" [--kind oidc] --issuer URL | --kind oauth2 --auth-url U --token-url U --userinfo-url U | --kind github [--github-url URL]
    --client-id C [--secret-stdin] [--scope S]... [--claim-mapping FIELD=CLAIM,...]... [--allowed-domains d1,d2] [--link-by-email] [--jit] [--roles-claim CLAIM [--roles-prefix P] [--required-group G]]`,
		upstreamSettings()...)
	var spec upstreams.Spec
	var scopes multi
	fs.StringVar(&spec.ID, "id", "", "short id used in URLs: lowercase letters, digits, dashes (required)")
	fs.StringVar(&spec.Name, "name", "", `shown on the sign-in button "Continue with NAME" (required)`)
	fs.StringVar(&spec.Kind, "kind", upstreams.KindOIDC, "oidc (OpenID Connect, by discovery), oauth2 (plain OAuth 2.0 with a userinfo URL) or github")
	fs.StringVar(&spec.Issuer, "issuer", "", "the upstream's issuer URL; its discovery document is read from there (required for kind oidc)")
	endpointFlags(fs, &spec.AuthURL, &spec.TokenURL, &spec.UserinfoURL, &spec.GitHubURL)
	var mapping multi
	fs.Var(&mapping, "claim-mapping", "FIELD=CLAIM[,...], repeatable: read idp's sub, email, email_verified, name or roles from that upstream claim, e.g. sub=id,email=mail")
	fs.StringVar(&spec.ClientID, "client-id", "", "idp's client id at the upstream (required)")
	secretStdin := fs.Bool("secret-stdin", false, "read idp's client secret at the upstream from stdin (without it: a public client, PKCE only)")
	fs.Var(&scopes, "scope", "a scope to request besides openid, repeatable (e.g. email, profile)")
	domains := fs.String("allowed-domains", "", "comma-separated email domains that may sign in this way (default: any)")
	fs.BoolVar(&spec.LinkByEmail, "link-by-email", false, "link a first sign-in to the existing user with the same email, if the upstream says email_verified")
	fs.BoolVar(&spec.JIT, "jit", false, "create a user at the first sign-in of someone without one")
	fs.StringVar(&spec.Claims.RolesClaim, "roles-claim", "", "a claim (string or list) whose values become the user's roles at each sign-in, e.g. groups (same as --claim-mapping roles=CLAIM)")
	fs.StringVar(&spec.Claims.RolesPrefix, "roles-prefix", "", "keep only roles-claim values with this prefix, prefix removed")
	fs.StringVar(&spec.Claims.RequiredGroup, "required-group", "", "refuse anybody whose roles-claim lacks this value")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if spec.ID == "" || spec.Name == "" || spec.ClientID == "" || (spec.Kind == upstreams.KindOIDC && spec.Issuer == "") {
		return fmt.Errorf("upstreams create needs --id, --name and --client-id, and --issuer for kind oidc")
	}
	fields, err := upstreams.ParseClaimMapping(mapping...)
	if err != nil {
		return err
	}
	if r, ok := fields[upstreams.FieldRoles]; ok && spec.Claims.RolesClaim != "" && r != spec.Claims.RolesClaim {
		return fmt.Errorf("--claim-mapping roles=%s contradicts --roles-claim %s", r, spec.Claims.RolesClaim)
	}
	spec.Claims.Map(fields)
	spec.Scopes, spec.AllowedDomains = scopes, splitList(*domains)
	if *secretStdin {
		secret, err := readSecret(s.in, "upstream client secret")
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
	u, err := e.Admin.CreateUpstream(ctx, actorOf(ctx), spec)
	if err != nil {
		return err
	}
	view := e.Admin.UpstreamView(u, 0)
	if *asJSON {
		return printJSON(s, view)
	}
	fmt.Fprintf(s.out, "id: %s\nredirect_uri: %s\n", u.ID, view.RedirectURI)
	fmt.Fprintln(s.err, "idp: register the redirect_uri above for the client at the upstream")
	return nil
}

func upstreamsList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "upstreams list", "upstreams list [--json]", upstreamSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	views, err := e.Admin.UpstreamViews(ctx)
	if err != nil {
		return err
	}
	return printList(s, *asJSON, views, "ID\tNAME\tKIND\tISSUER\tCLIENT\tLINK-BY-EMAIL\tJIT\tDOMAINS\tCLAIM-MAPPING\tLINKED", func(v admin.Upstream) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%t\t%t\t%s\t%s\t%d", v.ID, v.Name, v.Kind, cmp.Or(v.Issuer, v.AuthURL, v.GitHubURL, "https://github.com"),
			v.ClientID, v.LinkByEmail, v.JIT, strings.Join(v.AllowedDomains, ","), v.ClaimMapping, v.LinkedAccounts)
	})
}

func upstreamsUpdate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "upstreams update",
		`upstreams update --id ID [--name N] [--issuer URL] [--auth-url U] [--token-url U] [--userinfo-url U] [--github-url URL] [--client-id C] [--secret-stdin] [--scope S]... [--claim-mapping FIELD=CLAIM,...]... [--allowed-domains d1,d2] [--link-by-email=BOOL] [--jit=BOOL] [--roles-claim C] [--roles-prefix P] [--required-group G]`,
		upstreamSettings()...)
	id := fs.String("id", "", "the upstream's id (required)")
	name := fs.String("name", "", "the button's name")
	issuer := fs.String("issuer", "", "the upstream's issuer URL")
	var authURL, tokenURL, userinfoURL, githubURL string
	endpointFlags(fs, &authURL, &tokenURL, &userinfoURL, &githubURL)
	var mapping multi
	fs.Var(&mapping, "claim-mapping", "FIELD=CLAIM[,...], repeatable: change where these fields are read from (FIELD= restores the default); the other fields stay")
	clientID := fs.String("client-id", "", "idp's client id at the upstream")
	secretStdin := fs.Bool("secret-stdin", false, "read a new client secret from stdin")
	var scopes multi
	fs.Var(&scopes, "scope", "the scopes to request from now on, repeatable")
	domains := fs.String("allowed-domains", "", "comma-separated allowed email domains; empty: any")
	link := fs.Bool("link-by-email", false, "link by verified email")
	jit := fs.Bool("jit", false, "create users at first sign-in")
	rolesClaim := fs.String("roles-claim", "", "claim whose values become roles; empty: roles are left alone")
	rolesPrefix := fs.String("roles-prefix", "", "prefix filter of the roles claim")
	group := fs.String("required-group", "", "value the roles claim must hold; empty: none")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("upstreams update needs --id")
	}
	var up upstreams.Update
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			up.Name = name
		case "issuer":
			up.Issuer = issuer
		case "client-id":
			up.ClientID = clientID
		case "auth-url":
			up.AuthURL = &authURL
		case "token-url":
			up.TokenURL = &tokenURL
		case "userinfo-url":
			up.UserinfoURL = &userinfoURL
		case "github-url":
			up.GitHubURL = &githubURL
		case "claim-mapping":
			joined := strings.Join(mapping, ",")
			up.Mapping = &joined
		case "scope":
			l := []string(scopes)
			up.Scopes = &l
		case "allowed-domains":
			l := splitList(*domains)
			up.AllowedDomains = &l
		case "link-by-email":
			up.LinkByEmail = link
		case "jit":
			up.JIT = jit
		case "roles-claim":
			up.RolesClaim = rolesClaim
		case "roles-prefix":
			up.RolesPrefix = rolesPrefix
		case "required-group":
			up.RequiredGroup = group
		}
	})
	if up == (upstreams.Update{}) && !*secretStdin {
		return fmt.Errorf("upstreams update: nothing to change")
	}
	if *secretStdin {
		secret, err := readSecret(s.in, "upstream client secret")
		if err != nil {
			return err
		}
		up.Secret = &secret
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if _, err := e.Admin.UpdateUpstream(ctx, actorOf(ctx), *id, up); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "updated %s\n", *id)
	return nil
}

// endpointFlags declares the endpoint flags of kinds oauth2 and github.
func endpointFlags(fs *settingsFlagSet, auth, token, userinfo, github *string) {
	fs.StringVar(auth, "auth-url", "", "kind oauth2: the authorization endpoint (https)")
	fs.StringVar(token, "token-url", "", "kind oauth2: the token endpoint (https)")
	fs.StringVar(userinfo, "userinfo-url", "", "kind oauth2: the URL returning the person's claims as JSON for the access token (https)")
	fs.StringVar(github, "github-url", "", "kind github: GitHub Enterprise Server's base URL, e.g. https://github.example.com (default: github.com)")
}

func upstreamsDelete(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "upstreams delete", "upstreams delete --id ID", upstreamSettings()...)
	id := fs.String("id", "", "the upstream's id (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("upstreams delete needs --id")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.Admin.DeleteUpstream(ctx, actorOf(ctx), *id); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "deleted %s (its links are gone; the users remain)\n", *id)
	return nil
}
