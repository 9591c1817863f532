package admin

import (
	"context"
	"errors"
	"time"

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/keys"
	"idp/mfa"
	"idp/resources"
	"idp/sessions"
	"idp/throttle"
	"idp/tokens"
	"idp/upstreams"
	"idp/users"
)

// Actor is who performs an action, through which interface, from where;
// the audit log records it with every change.
type Actor = audit.Actor

// Sentinel errors of the admin actions, for the adapters to map to an exit
// code, a page or an HTTP status.
var (
	// ErrNotFound: the user, client or key named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: it exists already, or changed concurrently.
	ErrConflict = errors.New("conflict")
)

// InvalidError refuses input that breaks a rule (an email, a weak
// password, client metadata); Reason is written for the person who sent it.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

// TooEarlyError refuses a rotation before the next key's stored signing
// time (SafeAt): relying services may not have the key yet.
type TooEarlyError = keys.TooEarlyError

// Service performs the administrative actions over the domain services.
type Service struct {
	db        *db.DB
	users     *users.Service
	clients   *clients.Service
	resources *resources.Service
	upstreams *upstreams.Service
	sessions  *sessions.Service
	tokens    *tokens.Service
	keys      *keys.Manager
	audit     *audit.Log
	throttle  *throttle.Throttle
	mfa       *mfa.Service
	verifier  Verifier
	now       func() time.Time
}

// Verifier queues the mail that asks a new user to confirm their address
// (selfservice.Service has it), inside the transaction in ctx.
type Verifier interface {
	RequestVerification(ctx context.Context, userID, email string) error
	// RequestInvitation queues the invitation of a user made without a
	// password.
	RequestInvitation(ctx context.Context, userID, email string) error
	// RequestReset queues a password-reset link to email.
	RequestReset(ctx context.Context, email string) error
}

// Deps are the domain services the actions use.
type Deps struct {
	DB        *db.DB
	Users     *users.Service
	Clients   *clients.Service
	Resources *resources.Service
	Upstreams *upstreams.Service
	Sessions  *sessions.Service
	Tokens    *tokens.Service
	Keys      *keys.Manager
	Audit     *audit.Log
	Throttle  *throttle.Throttle
	MFA       *mfa.Service
	// Verifier, when set, mails each user created without EmailVerified
	// a link to confirm the address, and makes InviteUser possible.
	Verifier Verifier
	Now      func() time.Time
}

// New returns the admin actions over d.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{db: d.DB, users: d.Users, clients: d.Clients, resources: d.Resources, upstreams: d.Upstreams, sessions: d.Sessions, tokens: d.Tokens, keys: d.Keys,
		audit: d.Audit, throttle: d.Throttle, mfa: d.MFA, verifier: d.Verifier, now: d.Now}
}

// as returns ctx carrying actor, so that the audit records of the domain
// packages below (key events, revocations) name them too.
func as(ctx context.Context, actor Actor) context.Context { return audit.WithActor(ctx, actor) }

// record appends one audit event by the actor in ctx.
func (s *Service) record(ctx context.Context, action, target, detail string) {
	s.audit.Record(ctx, action, target, detail)
}

// tagged marks err as kind (ErrNotFound, ErrConflict) for errors.Is
// without changing its text.
type tagged struct{ kind, err error }

func (e tagged) Error() string   { return e.err.Error() }
func (e tagged) Unwrap() []error { return []error{e.kind, e.err} }

// mapErr tags storage sentinels with the package's own.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, db.ErrNotFound):
		return tagged{ErrNotFound, err}
	case errors.Is(err, db.ErrConflict):
		return tagged{ErrConflict, err}
	}
	return err
}
