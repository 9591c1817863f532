package logout

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"idp/audit"
	"idp/clients"
	"idp/sessions"
)

// Signer signs a JWT payload with the active key of alg and the given typ
// header; *keys.Manager satisfies it.
type Signer interface {
	Sign(ctx context.Context, alg string, payload []byte, typ string) (string, error)
}

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// Issuer is the iss of every logout token.
	Issuer string
	// TokenTTL is how long a logout token is valid (default 2 minutes:
	// it is delivered at once, and a retry signs a fresh one).
	TokenTTL time.Duration
	// Timeout bounds one POST to a relying party (default 5 s).
	Timeout time.Duration
	// Lease is how long a claimed row is its sender's alone (default 1
	// minute, well over Timeout).
	Lease time.Duration
	// MaxAttempts is how many deliveries are tried before the row is
	// marked failed (default 6).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubling after each
	// further one up to MaxBackoff (defaults 10 s and 10 min).
	Backoff, MaxBackoff time.Duration
	// Keep is how long finished rows stay before Purge deletes them
	// (default 7 days).
	Keep time.Duration
	// HTTP sends the logout tokens (default: Timeout per request, no
	// redirects followed). Tests may give their own.
	HTTP *http.Client
	// Audit records deliveries that were given up.
	Audit  *audit.Log
	Now    func() time.Time
	Logger *slog.Logger
}

// Service records which clients are in which session, queues a logout
// for each when the session ends and delivers them. It is safe for
// concurrent use, and any number of processes may run it on one database.
type Service struct {
	store   *Store
	clients *clients.Store
	signer  Signer
	cfg     Config
	wake    chan struct{}
}

// NewService returns a Service over store, reading clients from cs and
// signing with signer.
func NewService(store *Store, cs *clients.Store, signer Signer, cfg Config) *Service {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TokenTTL, 2*time.Minute)
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.Lease, time.Minute)
	def(&cfg.Backoff, 10*time.Second)
	def(&cfg.MaxBackoff, 10*time.Minute)
	def(&cfg.Keep, 7*24*time.Hour)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // Back-Channel Logout 1.0 §2.5: the answer is the RP's own
		}}
	}
	return &Service{store: store, clients: cs, signer: signer, cfg: cfg, wake: make(chan struct{}, 1)}
}

// now is the clock at the microsecond PostgreSQL keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// SessionGranted records that clientID obtained tokens in session sid: the
// tokens package's OnSessionGrant hook, inside the code redemption's
// transaction.
func (s *Service) SessionGranted(ctx context.Context, sid, clientID string) error {
	if err := s.store.recordGrant(ctx, sid, clientID, s.now()); err != nil {
		return fmt.Errorf("record session client: %w", err)
	}
	return nil
}

// SessionsEnded queues one back-channel logout per ended session and
// client of it with a backchannel_logout_uri: the sessions package's OnEnd
// hook, inside the transaction that ends them, so a session never ends
// without its logouts queued (nor are they queued for one that did not
// end).
func (s *Service) SessionsEnded(ctx context.Context, ended []sessions.Ended) error {
	now := s.now()
	userOf := make(map[string]string, len(ended))
	sids := make([]string, 0, len(ended))
	for _, e := range ended {
		userOf[e.ID] = e.UserID
		sids = append(sids, e.ID)
	}
	pairs, err := s.store.backchannelClients(ctx, sids)
	if err != nil {
		return fmt.Errorf("queue back-channel logout: %w", err)
	}
	rows := make([]deliveryRow, 0, len(pairs))
	for _, p := range pairs {
		rows = append(rows, deliveryRow{ID: rand.Text(), SessionID: p.SessionID, ClientID: p.ClientID, UserID: userOf[p.SessionID],
			State: StateQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.store.insert(ctx, rows); err != nil {
		return fmt.Errorf("queue back-channel logout: %w", err)
	}
	return nil
}

// Wake makes the local delivery loop look for due rows now: the sessions
// package calls it once the transaction that ended sessions committed.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// FrontChannel returns the front-channel logout URIs to load for session
// sid, which is about to end (Front-Channel Logout 1.0 §2, §4): each
// client's frontchannel_logout_uri, with iss and sid added to its query
// when it registered frontchannel_logout_session_required.
func (s *Service) FrontChannel(ctx context.Context, sid string) ([]string, error) {
	if s == nil || sid == "" {
		return nil, nil
	}
	rows, err := s.store.frontchannelClients(ctx, sid)
	if err != nil {
		return nil, fmt.Errorf("front-channel logout: %w", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		u, err := url.Parse(r.URI)
		if err != nil {
			continue // validated at registration; a broken row is skipped, not fatal
		}
		if r.SessionRequired {
			q := u.Query()
			q.Set("iss", s.cfg.Issuer)
			q.Set("sid", sid)
			u.RawQuery = q.Encode()
		}
		out = append(out, u.String())
	}
	return out, nil
}
