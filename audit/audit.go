package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Interfaces an action can come through.
const (
	ViaWeb    = "web"
	ViaAPI    = "api"
	ViaCLI    = "cli"
	ViaSystem = "system"
)

// Event is one audit record.
type Event struct {
	ID     string
	At     time.Time
	Actor  string // user id or email, client id, "cli" or "system"
	Action string // e.g. "signin.success", "key.rotated"
	Target string // what was acted on: a user, client, kid, family
	Via    string
	IP     string
	Detail string
}

// Actor is who is acting, carried in the context.
type Actor struct{ Name, Via, IP string }

type actorKey struct{}

// WithActor returns ctx carrying who acts, through what, from where.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the context's actor, or the system.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Name: "system", Via: ViaSystem}
}

// Log records and lists events.
type Log struct {
	store    *Store
	now      func() time.Time
	log      *slog.Logger
	observer func(action string)
}

// Observe registers fn to be told the action of every recorded event
// (metrics count sign-ins and revocations this way). Call it before the
// log is in use.
func (l *Log) Observe(fn func(action string)) { l.observer = fn }

// New returns a Log over store.
func New(store *Store, now func() time.Time, logger *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{store: store, now: now, log: logger}
}

// Record appends an event by the context's actor. A failure to write is
// logged, never returned: the audited action has already happened, and
// refusing it afterwards would help nobody. detail must hold no secret.
func (l *Log) Record(ctx context.Context, action, target, detail string) {
	a := ActorFrom(ctx)
	at := l.now().UTC()
	e := &Event{ID: newID(at), At: at, Actor: a.Name, Action: action, Target: target, Via: a.Via, IP: a.IP, Detail: detail}
	if l.observer != nil {
		l.observer(action)
	}
	if err := l.store.Create(ctx, e); err != nil {
		l.log.Error("audit write failed", "action", action, "target", target, "error", err.Error())
	}
}

// List returns up to limit events older than before (zero: from now),
// newest first.
func (l *Log) List(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	if before.IsZero() {
		before = l.now().UTC().Add(time.Second)
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	evs, err := l.store.List(ctx, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return evs, nil
}

// seq orders the events one process records within the same instant.
var seq atomic.Uint64

// newID makes an id that sorts by time, then by recording order within
// this process; the random tail keeps replicas' ids apart.
func newID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x%012x%s", at.UnixNano(), seq.Add(1)&0xffffffffffff, hex.EncodeToString(b[:]))
}
