package tokens

import "context"

// SessionGrantHook is told, inside the transaction that redeems a code,
// that client obtained tokens in the SSO session sessionID (the ID
// token's sid): back-channel logout later tells that client when the
// session ends. Its error fails the redemption, and the code stays
// unused.
type SessionGrantHook func(ctx context.Context, sessionID, clientID string) error

// OnSessionGrant registers the hook; call it at wiring time only. Refresh
// grants keep the family's session, so only code redemption calls it.
func (s *Service) OnSessionGrant(h SessionGrantHook) { s.onSessionGrant = h }

// sessionGranted calls the hook, if any, for a grant made in a session.
func (s *Service) sessionGranted(ctx context.Context, g *Grant) error {
	if s.onSessionGrant == nil || g.SessionID == "" {
		return nil
	}
	return s.onSessionGrant(ctx, g.SessionID, g.ClientID)
}
