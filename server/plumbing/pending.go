package plumbing

import (
	"context"
	"errors"

	"idp/clients"
	"idp/tokens"
)

// PendingRequest loads the pending authorization request named id and its
// client. The sign-in and consent pages name a request by this id, and the
// protocol side loads it again by the same id when a page hands it back,
// so the two share nothing else. A stale id, or a client deleted
// meanwhile, is ErrRequestGone: a page in plain words.
func (s *Site) PendingRequest(ctx context.Context, id string) (*tokens.AuthRequest, *clients.Client, error) {
	if !ValidText(id) {
		return nil, nil, ErrRequestGone
	}
	req, err := s.Tokens.AuthRequest(ctx, id)
	if errors.Is(err, tokens.ErrRequestGone) {
		return nil, nil, ErrRequestGone
	}
	if err != nil {
		return nil, nil, err
	}
	client, err := s.Clients.Store().ByID(ctx, req.ClientID)
	if err != nil {
		return nil, nil, ErrRequestGone // client deleted meanwhile
	}
	return req, client, nil
}
