package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"idp/resources"
)

// Resource is a registered API as admins see it: never its secret.
type Resource struct {
	URI    string   `json:"id"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// SigningAlg is "" when the client's algorithm signs its tokens.
	SigningAlg string `json:"signing_alg"`
	// AccessTokenTTL is in seconds; 0 is the provider's.
	AccessTokenTTL int64 `json:"access_token_ttl"`
	// Introspects says whether it has credentials for the introspection
	// endpoint.
	Introspects bool `json:"introspects"`
	Created     Time `json:"created_at"`
	Updated     Time `json:"updated_at"`
}

func resourceView(r *resources.Resource) Resource {
	return Resource{URI: r.URI, Name: r.Name, Scopes: nonNil(r.Scopes), SigningAlg: r.SigningAlg,
		AccessTokenTTL: int64(r.AccessTokenTTL / time.Second), Introspects: r.SecretHash != nil,
		Created: Time{r.CreatedAt}, Updated: Time{r.UpdatedAt}}
}

// Resources lists every registered resource.
func (s *Service) Resources(ctx context.Context) ([]Resource, error) {
	list, err := s.resources.Store().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Resource, 0, len(list))
	for i := range list {
		out = append(out, resourceView(&list[i]))
	}
	return out, nil
}

// Resource returns one; an unknown URI is ErrNotFound.
func (s *Service) Resource(ctx context.Context, uri string) (Resource, error) {
	r, err := s.resources.Store().ByURI(ctx, uri)
	if err != nil {
		return Resource{}, fmt.Errorf("resource %s: %w", uri, mapErr(err))
	}
	return resourceView(r), nil
}

// resourceErr maps the resources package's errors to the admin ones.
func resourceErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, resources.ErrInvalidSpec):
		return &InvalidError{Reason: err.Error()}
	}
	return fmt.Errorf("%s: %w", what, mapErr(err))
}

// CreateResource registers an API and returns it with its generated
// secret (empty when spec gave one or asked for none), shown once. A
// taken URI is ErrConflict; a spec that breaks a rule *InvalidError
// listing every problem.
func (s *Service) CreateResource(ctx context.Context, actor Actor, spec resources.Spec) (Resource, string, error) {
	ctx = as(ctx, actor)
	r, secret, err := s.resources.Create(ctx, spec)
	if err != nil {
		return Resource{}, "", resourceErr("create resource", err)
	}
	s.record(ctx, "resource.created", r.URI, "")
	return resourceView(r), secret, nil
}

// ResourceUpdate is a change to a resource: every field that is not nil
// replaces the resource's value. The JSON names are the view's.
type ResourceUpdate struct {
	Name           *string   `json:"name,omitempty"`
	Scopes         *[]string `json:"scopes,omitempty"`
	SigningAlg     *string   `json:"signing_alg,omitempty"`
	AccessTokenTTL *int64    `json:"access_token_ttl,omitempty"`
}

// UpdateResource changes a resource's name, scopes and token policy; its
// credentials stay. An unknown URI is ErrNotFound, an empty or invalid
// change *InvalidError.
func (s *Service) UpdateResource(ctx context.Context, actor Actor, uri string, up ResourceUpdate) (Resource, error) {
	ctx = as(ctx, actor)
	r, err := s.resources.Store().ByURI(ctx, uri)
	if err != nil {
		return Resource{}, fmt.Errorf("resource %s: %w", uri, mapErr(err))
	}
	spec := resources.SpecOf(r)
	var changed []string
	if up.Name != nil {
		spec.Name, changed = *up.Name, append(changed, "name")
	}
	if up.Scopes != nil {
		spec.Scopes, changed = nonEmpty(*up.Scopes), append(changed, "scopes")
	}
	if up.SigningAlg != nil {
		spec.SigningAlg, changed = *up.SigningAlg, append(changed, "signing_alg")
	}
	if up.AccessTokenTTL != nil {
		spec.AccessTokenTTL, changed = time.Duration(*up.AccessTokenTTL)*time.Second, append(changed, "access_token_ttl")
	}
	if len(changed) == 0 {
		return Resource{}, &InvalidError{Reason: "nothing to change"}
	}
	updated, err := s.resources.Update(ctx, spec)
	if err != nil {
		return Resource{}, resourceErr("update resource", err)
	}
	s.record(ctx, "resource.updated", uri, "changed="+strings.Join(changed, ","))
	return resourceView(updated), nil
}

// DeleteResource removes a resource: tokens already issued for it stay
// valid until they expire, but none is issued for it again. An unknown
// URI is ErrNotFound.
func (s *Service) DeleteResource(ctx context.Context, actor Actor, uri string) error {
	ctx = as(ctx, actor)
	if err := s.resources.Store().Delete(ctx, uri); err != nil {
		return fmt.Errorf("delete resource %s: %w", uri, mapErr(err))
	}
	s.record(ctx, "resource.deleted", uri, "")
	return nil
}

// RegenerateResourceSecret gives a resource a new introspection secret
// (also one that had none), returned once; the old one stops at once.
func (s *Service) RegenerateResourceSecret(ctx context.Context, actor Actor, uri string) (string, error) {
	ctx = as(ctx, actor)
	secret, err := s.resources.RegenerateSecret(ctx, uri)
	if err != nil {
		return "", fmt.Errorf("regenerate secret: %w", mapErr(err))
	}
	s.record(ctx, "resource.secret_regenerated", uri, "")
	return secret, nil
}

// checkDefaultResource refuses a client's default resource that is not
// registered.
func (s *Service) checkDefaultResource(ctx context.Context, uri string) error {
	if uri == "" {
		return nil
	}
	if _, err := s.resources.Store().ByURI(ctx, uri); errors.Is(err, resources.ErrUnknown) {
		return &InvalidError{Reason: "default resource " + uri + " is not registered (idp resources create --id " + uri + ")"}
	} else if err != nil {
		return err
	}
	return nil
}
