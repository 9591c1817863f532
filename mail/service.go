package mail

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Job is a queued message as its Composer sees it.
type Job struct {
	ID       string
	Kind     string
	To       string            // the recipient's address
	Data     map[string]string // what the flow stored with it, never a secret
	Attempt  int               // 1 on the first attempt
	QueuedAt time.Time
}

// Composer renders the message of a job when it is sent. It returns nil
// and no error when there is nothing to send (the job is dropped: a reset
// asked for an address nobody has). An error is retried like a failed
// delivery.
type Composer func(ctx context.Context, j Job) (*Message, error)

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// Sender delivers; nil means this process sends nothing (it may
	// still queue, for the processes that do).
	Sender Sender
	// From is the sender address of every message.
	From Address
	// Lease is how long a claimed message is its sender's alone before
	// another replica may try it (default 2 minutes, well over the SMTP
	// timeout).
	Lease time.Duration
	// MaxAttempts is how many deliveries are tried before the message is
	// marked failed (default 12: about a day with the default backoff).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubling after each
	// further one up to MaxBackoff (defaults 30s and 4h).
	Backoff, MaxBackoff time.Duration
	// Keep is how long sent, failed and dropped rows stay for the metrics
	// and the operator before Purge deletes them (default 7 days).
	Keep   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Service queues messages and delivers them. It is safe for concurrent
// use, and any number of processes may run it on one database.
type Service struct {
	store     *Store
	cfg       Config
	mu        sync.RWMutex
	composers map[string]Composer
	wake      chan struct{}
}

// NewService returns a Service over store.
func NewService(store *Store, cfg Config) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 4 * time.Hour
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{store: store, cfg: cfg, composers: map[string]Composer{}, wake: make(chan struct{}, 1)}
}

// Enabled reports whether mail can be sent: the flows that need it are
// offered only then.
func (s *Service) Enabled() bool { return s != nil && s.cfg.Sender != nil }

// Handle registers the composer of kind, at wiring time.
func (s *Service) Handle(kind string, c Composer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.composers[kind] = c
}

// Enqueue queues a message of kind to the address to with data (which is
// stored as is: never put a secret in it). It is one insert, the same
// work whatever the message turns out to be, and joins the transaction
// in ctx. The local sender loop is woken at once. A process without a
// sender (an admin command) queues too: the serving processes, which
// have one, send it.
func (s *Service) Enqueue(ctx context.Context, kind, to string, data map[string]string) error {
	if data == nil {
		data = map[string]string{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	now := s.now()
	r := &outboxRow{ID: rand.Text(), Kind: kind, Recipient: to, Data: string(b), State: StateQueued,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if err := s.store.insert(ctx, r); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// now is the clock at the microsecond PostgreSQL keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// SendBatch tries up to limit due messages, one after the other, and
// reports how many it delivered. Each is claimed first; a message another
// replica claimed is skipped. A failed delivery is retried after a
// backoff, and marked failed after MaxAttempts.
func (s *Service) SendBatch(ctx context.Context, limit int) (int, error) {
	sent, _, err := s.sendBatch(ctx, limit)
	return sent, err
}

// sendBatch is SendBatch that also says how many due rows it found, sent
// or not (dropped, failed, claimed by another replica): a full batch means
// more may be waiting.
func (s *Service) sendBatch(ctx context.Context, limit int) (sent, due int, err error) {
	if !s.Enabled() {
		return 0, 0, nil
	}
	rows, err := s.store.due(ctx, s.now(), limit)
	if err != nil {
		return 0, 0, fmt.Errorf("mail outbox: %w", err)
	}
	for i := range rows {
		if ctx.Err() != nil {
			break
		}
		ok, err := s.attempt(ctx, &rows[i])
		if err != nil {
			return sent, len(rows), err
		}
		if ok {
			sent++
		}
	}
	return sent, len(rows), nil
}

// attempt claims, composes and delivers one row, and records the outcome.
func (s *Service) attempt(ctx context.Context, r *outboxRow) (bool, error) {
	owner, now := rand.Text(), s.now()
	won, err := s.store.claim(ctx, r.ID, owner, now, now.Add(s.cfg.Lease))
	if err != nil || !won {
		return false, err
	}
	r.Attempts++
	state, lastErr, next := StateSent, "", time.Time{}
	m, err := s.compose(ctx, r)
	if err == nil && m == nil {
		state = StateDropped
	}
	if err == nil && m != nil {
		sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = s.cfg.Sender.Send(sendCtx, s.cfg.From, m)
		cancel()
	}
	if err != nil {
		state, lastErr = StateQueued, clip(err.Error())
		if r.Attempts >= s.cfg.MaxAttempts {
			state = StateFailed
		}
		next = s.now().Add(s.backoff(r.Attempts))
		s.cfg.Logger.WarnContext(ctx, "mail delivery failed", "id", r.ID, "kind", r.Kind, "attempt", r.Attempts,
			"gave_up", state == StateFailed, "error", lastErr)
	}
	// A fresh context: the outcome must be recorded even when ctx ended
	// during the send, or the message would go again after the lease.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.store.finish(rec, r.ID, owner, state, lastErr, next, s.now()); err != nil {
		return false, fmt.Errorf("mail outbox: record %s: %w", state, err)
	}
	if state == StateSent {
		s.cfg.Logger.InfoContext(ctx, "mail sent", "id", r.ID, "kind", r.Kind, "attempt", r.Attempts)
	}
	return state == StateSent, nil
}

// compose runs the composer of r's kind.
func (s *Service) compose(ctx context.Context, r *outboxRow) (*Message, error) {
	s.mu.RLock()
	c := s.composers[r.Kind]
	s.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("no composer for mail kind %q", r.Kind)
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
		return nil, fmt.Errorf("mail data: %w", err)
	}
	return c(ctx, Job{ID: r.ID, Kind: r.Kind, To: r.Recipient, Data: data, Attempt: r.Attempts, QueuedAt: r.CreatedAt.UTC()})
}

// backoff is the wait after the n-th failed attempt: Backoff, doubling,
// capped at MaxBackoff.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// clip shortens an error for the last_error column.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// Counts returns how many messages are queued, sent and failed (over the
// rows Purge has not yet deleted), for /metrics. Dropped jobs are not
// counted: they are requests, not messages.
func (s *Service) Counts(ctx context.Context) (queued, sent, failed int64, err error) {
	m, err := s.store.counts(ctx)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("mail counts: %w", err)
	}
	return m[StateQueued], m[StateSent], m[StateFailed], nil
}

// Purge deletes up to limit finished rows older than Keep.
func (s *Service) Purge(ctx context.Context, limit int) (int64, error) {
	n, err := s.store.purge(ctx, s.now().Add(-s.cfg.Keep), limit)
	if err != nil {
		return n, fmt.Errorf("purge mail: %w", err)
	}
	return n, nil
}

// pollEvery is how often Run looks for due messages queued by other
// replicas or waiting for a retry.
const pollEvery = 5 * time.Second

// Drain sends due messages in batches while batches come back full. Rows
// dropped or failed (a reset for an unknown address) count as much as
// sent ones: a run of them must not hold the real mail behind them until
// the next poll.
func (s *Service) Drain(ctx context.Context) error {
	for ctx.Err() == nil {
		_, due, err := s.sendBatch(ctx, runBatch)
		if err != nil || due < runBatch {
			return err
		}
	}
	return nil
}

// runBatch is how many due rows Run takes at a time.
const runBatch = 20

// Run sends due messages until ctx ends: at once when this process queued
// one, otherwise every few seconds. Every replica runs it.
func (s *Service) Run(ctx context.Context) {
	if !s.Enabled() {
		return
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.Drain(ctx); err != nil {
			s.cfg.Logger.Error("mail outbox failed", "error", err.Error())
		}
	}
}
