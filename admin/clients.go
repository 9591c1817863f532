package admin

import (
	"context"
	"errors"
	"fmt"

	"idp/clients"
)

// Clients lists every client.
func (s *Service) Clients(ctx context.Context) ([]Client, error) {
	list, err := s.clients.Store().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]Client, 0, len(list))
	for i := range list {
		out = append(out, clientView(&list[i]))
	}
	return out, nil
}

// CreateClient registers a client and returns it with its generated secret
// (empty for public clients and when spec.Secret was given): shown once,
// never stored. A taken id is ErrConflict; metadata that breaks a rule is
// *InvalidError listing every problem.
func (s *Service) CreateClient(ctx context.Context, actor Actor, spec clients.Spec) (Client, string, error) {
	ctx = as(ctx, actor)
	c, secret, err := s.clients.Create(ctx, spec)
	switch {
	case errors.Is(err, clients.ErrClientExists):
		return Client{}, "", tagged{ErrConflict, err}
	case errors.Is(err, clients.ErrInvalidSpec):
		return Client{}, "", &InvalidError{Reason: err.Error()}
	case err != nil:
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	s.record(ctx, "client.created", c.ID, "")
	return clientView(c), secret, nil
}

// DeleteClient removes a client; an unknown id is ErrNotFound.
func (s *Service) DeleteClient(ctx context.Context, actor Actor, id string) error {
	ctx = as(ctx, actor)
	if err := s.clients.Store().Delete(ctx, id); err != nil {
		return fmt.Errorf("delete client %s: %w", id, mapErr(err))
	}
	s.record(ctx, "client.deleted", id, "")
	return nil
}
