package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"idp/admin"
	"idp/resources"
)

func runResources(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{
		"create": resourcesCreate, "list": resourcesList, "update": resourcesUpdate, "delete": resourcesDelete,
	}
	return dispatch(ctx, "resources", "create|list|update|delete", sub, args, s)
}

func resourcesCreate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "resources create",
		"resources create --id URI [--name N] [--scope S]... [--secret-stdin | --no-secret] [--signing-alg RS256|ES256] [--access-token-ttl D]",
		adminSettings()...)
	var spec resources.Spec
	var scopes multi
	fs.StringVar(&spec.URI, "id", "", "the API's absolute URI: the aud of its access tokens (RFC 8707 resource) and its client_id at the introspection endpoint (required)")
	fs.StringVar(&spec.Name, "name", "", "a name for admins")
	fs.Var(&scopes, "scope", "a scope the API defines, repeatable. Its tokens may carry only these API scopes, unless another resource of the same token allows more; OpenID Connect scopes are always allowed. None given: any scope")
	secretStdin := fs.Bool("secret-stdin", false, "read its introspection secret (at least 32 bytes) from stdin instead of generating one")
	fs.BoolVar(&spec.NoSecret, "no-secret", false, "no introspection credentials: the API verifies tokens locally only")
	fs.StringVar(&spec.SigningAlg, "signing-alg", "", "RS256 or ES256 for its access tokens (default: the client's)")
	fs.DurationVar(&spec.AccessTokenTTL, "access-token-ttl", 0, "a shorter lifetime for its access tokens (default: the provider's --access-token-ttl, which it cannot exceed)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if spec.URI == "" {
		return fmt.Errorf("resources create needs --id")
	}
	spec.Scopes = scopes
	if *secretStdin {
		secret, err := readSecret(s.in, "resource secret")
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
	r, secret, err := e.Admin.CreateResource(ctx, actorOf(ctx), spec)
	if err != nil {
		return fmt.Errorf("create resource: %w", err)
	}
	if *asJSON {
		out := map[string]any{"id": r.URI}
		if secret != "" {
			out["client_secret"] = secret
		}
		return printJSON(s, out)
	}
	fmt.Fprintf(s.out, "id: %s\n", r.URI)
	if secret != "" {
		fmt.Fprintf(s.out, "client_secret: %s\n", secret)
		fmt.Fprintln(s.err, "idp: the resource's introspection secret is shown once; store it now")
	}
	return nil
}

func resourcesList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "resources list", "resources list [--json]", adminSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	list, err := e.Admin.Resources(ctx)
	if err != nil {
		return err
	}
	return printList(s, *asJSON, list, "ID\tNAME\tALG\tTTL\tINTROSPECTS\tSCOPES", func(r admin.Resource) string {
		alg, ttl := r.SigningAlg, "default"
		if alg == "" {
			alg = "client's"
		}
		if r.AccessTokenTTL > 0 {
			ttl = (time.Duration(r.AccessTokenTTL) * time.Second).String()
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%t\t%s", r.URI, r.Name, alg, ttl, r.Introspects, strings.Join(r.Scopes, " "))
	})
}

func resourcesUpdate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "resources update",
		"resources update --id URI [--name N] [--scope S]... [--signing-alg RS256|ES256|''] [--access-token-ttl D] [--new-secret]",
		adminSettings()...)
	uri := fs.String("id", "", "the resource's URI (required)")
	name := fs.String("name", "", "a name for admins")
	var scopes multi
	fs.Var(&scopes, "scope", "its scopes from now on, repeatable (an empty value clears them: any scope); the next token issued, also by refresh, follows them")
	alg := fs.String("signing-alg", "", "RS256 or ES256 for its access tokens; empty: the client's")
	ttl := fs.Duration("access-token-ttl", 0, "its access tokens' lifetime; 0: the provider's")
	newSecret := fs.Bool("new-secret", false, "replace its introspection secret with a generated one, printed once")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *uri == "" {
		return fmt.Errorf("resources update needs --id")
	}
	var up admin.ResourceUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			up.Name = name
		case "scope":
			l := []string(scopes)
			up.Scopes = &l
		case "signing-alg":
			up.SigningAlg = alg
		case "access-token-ttl":
			secs := int64(*ttl / time.Second)
			up.AccessTokenTTL = &secs
		}
	})
	if up == (admin.ResourceUpdate{}) && !*newSecret {
		return fmt.Errorf("resources update: nothing to change")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if up != (admin.ResourceUpdate{}) {
		if _, err := e.Admin.UpdateResource(ctx, actorOf(ctx), *uri, up); err != nil {
			return fmt.Errorf("update resource: %w", err)
		}
	}
	fmt.Fprintf(s.out, "updated %s\n", *uri)
	if *newSecret {
		secret, err := e.Admin.RegenerateResourceSecret(ctx, actorOf(ctx), *uri)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "client_secret: %s\n", secret)
		fmt.Fprintln(s.err, "idp: the resource's introspection secret is shown once; store it now")
	}
	return nil
}

func resourcesDelete(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "resources delete", "resources delete --id URI", adminSettings()...)
	uri := fs.String("id", "", "the resource's URI (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *uri == "" {
		return fmt.Errorf("resources delete needs --id")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.Admin.DeleteResource(ctx, actorOf(ctx), *uri); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "deleted %s\n", *uri)
	return nil
}
