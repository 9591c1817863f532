package sessions_test

import (
	"context"
	"testing"
)

// TestStartFederatedKeepsTheUpstreamAccount: a session of a sign-in
// through an upstream remembers the upstream account, through a lookup and
// a step-up; one of idp's own sign-ins has none.
func TestStartFederatedKeepsTheUpstreamAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, _, err := e.svc.StartFederated(ctx, e.ada, []string{"fed"}, "corp", "sub-42", "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Lookup(ctx, token)
	if err != nil || sess.UpstreamID != "corp" || sess.UpstreamSub != "sub-42" {
		t.Fatalf("lookup: %+v, %v; want upstream corp/sub-42", sess, err)
	}
	own, _, err := e.svc.Start(ctx, e.grace, []string{"pwd"}, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if sess, err := e.svc.Lookup(ctx, own); err != nil || sess.UpstreamID != "" || sess.UpstreamSub != "" {
		t.Fatalf("password session: %+v, %v; want no upstream", sess, err)
	}
}
