package sessions_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/sessions"
)

func TestElevate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, s := e.start(t, e.ada)
	e.clock.Advance(time.Hour)
	fresh, err := e.svc.Elevate(ctx, s, token, []string{"pwd", "otp", "mfa"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh == token {
		t.Fatal("the elevated session kept its secret")
	}
	if _, err := e.svc.Lookup(ctx, token); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("the old secret still finds the session: %v", err)
	}
	got, err := e.svc.Lookup(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || !slices.Equal(got.AMR, []string{"pwd", "otp", "mfa"}) || !got.AuthTime.Equal(e.clock.Now()) {
		t.Errorf("elevated session %+v", got)
	}
	// A stale secret (someone elevated first) elevates nothing.
	if _, err := e.svc.Elevate(ctx, s, token, []string{"pwd", "hwk", "mfa"}); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("elevating with a stale secret: %v", err)
	}
	e.clock.Advance(ttl)
	if _, err := e.svc.Elevate(ctx, got, fresh, []string{"pwd"}); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("elevating an expired session: %v", err)
	}
}

func TestSteps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, err := e.svc.BeginStep(ctx, e.ada, []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Step(ctx, token)
	if err != nil || st.UserID != e.ada || !slices.Equal(st.AMR, []string{"pwd"}) {
		t.Fatalf("step %+v %v", st, err)
	}
	for _, bad := range []string{"", "nope", token + "x"} {
		if _, err := e.svc.Step(ctx, bad); !errors.Is(err, sessions.ErrNoStep) {
			t.Errorf("Step(%q): %v", bad, err)
		}
	}
	// Racing completions of one step: exactly one session.
	type result struct {
		secret string
		sess   *sessions.Session
	}
	results := make([]result, 8)
	errs := dbtest.Race(8, func(i int) error {
		secret, sess, err := e.svc.CompleteStep(ctx, token, []string{"pwd", "otp", "mfa"}, "192.0.2.1", "ua")
		results[i] = result{secret, sess}
		return err
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			if got, err := e.svc.Lookup(ctx, results[i].secret); err != nil || !slices.Equal(got.AMR, []string{"pwd", "otp", "mfa"}) {
				t.Errorf("the completed session: %+v %v", got, err)
			}
		case !errors.Is(err, sessions.ErrNoStep):
			t.Errorf("racer: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d completions of one step, want 1", won)
	}
	if list, _ := e.svc.List(ctx, e.ada); len(list) != 1 {
		t.Errorf("%d sessions, want 1", len(list))
	}
	// An expired step completes nothing; an abandoned one neither.
	old, _ := e.svc.BeginStep(ctx, e.ada, []string{"pwd"})
	e.clock.Advance(sessions.StepTTL)
	if _, _, err := e.svc.CompleteStep(ctx, old, []string{"pwd", "otp", "mfa"}, "", ""); !errors.Is(err, sessions.ErrNoStep) {
		t.Errorf("an expired step: %v", err)
	}
	gone, _ := e.svc.BeginStep(ctx, e.grace, []string{"pwd"})
	if err := e.svc.AbandonStep(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Step(ctx, gone); !errors.Is(err, sessions.ErrNoStep) {
		t.Errorf("an abandoned step: %v", err)
	}
	if n, err := e.svc.Store().DeleteExpiredSteps(ctx, e.clock.Now(), 10); err != nil || n != 1 {
		t.Errorf("purge: %d %v, want the one expired step", n, err)
	}
}
