package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"idp/audit"
)

// TestStoreQuery: each filter alone and combined, time bounds inclusive
// at From and exclusive at To, literal action prefixes, and paging by
// position both ways with ties on the time, on SQLite and PostgreSQL.
func TestStoreQuery(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	add := func(id string, at time.Time, actor, action, target string) {
		t.Helper()
		e := audit.Event{ID: id, At: at, Actor: actor, Action: action, Target: target, Via: audit.ViaWeb}
		if err := s.Create(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	add("a1", t0, "Ada@example.com", "user.created", "u1")
	add("a2", t0.Add(time.Second), "ada@example.com", "user.disabled", "u1")
	add("a3", t0.Add(time.Second), "bob@example.com", "user_created", "u2") // the same instant as a2
	add("a4", t0.Add(2*time.Second), "system", "key.rotated", "kid1")
	add("a5", t0.Add(3*time.Second), "bob@example.com", "user.enabled", "u1")

	ids := func(f audit.Filter, limit int) string {
		t.Helper()
		evs, err := s.Query(ctx, f, limit)
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return strings.Join(out, " ")
	}
	pos := func(id string, at time.Time) *audit.Position { return &audit.Position{At: at, ID: id} }
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want string
	}{
		{"all", audit.Filter{}, "a5 a4 a3 a2 a1"},
		{"actor ignores case", audit.Filter{Actor: "ADA@example.com"}, "a2 a1"},
		{"actor is whole", audit.Filter{Actor: "ada"}, ""},
		{"target", audit.Filter{Target: "u1"}, "a5 a2 a1"},
		{"action prefix", audit.Filter{Action: "user."}, "a5 a2 a1"},
		{"action underscore literal", audit.Filter{Action: "user_"}, "a3"},
		{"action percent literal", audit.Filter{Action: "%"}, ""},
		{"whole action", audit.Filter{Action: "key.rotated"}, "a4"},
		{"from inclusive", audit.Filter{From: t0.Add(time.Second)}, "a5 a4 a3 a2"},
		{"to exclusive", audit.Filter{To: t0.Add(time.Second)}, "a1"},
		{"window", audit.Filter{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, "a4 a3 a2"},
		{"window in another zone", audit.Filter{From: t0.Add(time.Second).In(time.FixedZone("X", 3600)),
			To: t0.Add(2 * time.Second).In(time.FixedZone("Y", -7200))}, "a3 a2"},
		{"combined", audit.Filter{Actor: "bob@example.com", Target: "u1", Action: "user."}, "a5"},
		{"combined, none", audit.Filter{Actor: "bob@example.com", Target: "u2", Action: "user."}, ""},
		{"before a tie", audit.Filter{Before: pos("a3", t0.Add(time.Second))}, "a2 a1"},
		{"after a tie", audit.Filter{After: pos("a2", t0.Add(time.Second))}, "a5 a4 a3"},
		{"before with a filter", audit.Filter{Target: "u1", Before: pos("a5", t0.Add(3*time.Second))}, "a2 a1"},
	} {
		if got := ids(tc.f, 10); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// Pages of two, older then newer again, by the positions shown.
	if got := ids(audit.Filter{}, 2); got != "a5 a4" {
		t.Fatalf("first page %q", got)
	}
	if got := ids(audit.Filter{Before: pos("a4", t0.Add(2*time.Second))}, 2); got != "a3 a2" {
		t.Errorf("second page %q", got)
	}
	if got := ids(audit.Filter{Before: pos("a2", t0.Add(time.Second))}, 2); got != "a1" {
		t.Errorf("last page %q", got)
	}
	if got := ids(audit.Filter{After: pos("a1", t0)}, 2); got != "a3 a2" {
		t.Errorf("newer than the last page %q", got)
	}
}
