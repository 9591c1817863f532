package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"idp/admin"
	"idp/upstreams"
)

// Deleting an upstream gives back to it (RFC 7009) the grants its links
// kept, in the background: the deletion neither waits on the upstream nor
// fails because of it (docs/federation.md, "Refresh checks the upstream").

// revocations are the forms of the revocation requests b got.
type revocations struct {
	mu    sync.Mutex
	forms []url.Values
}

func (rv *revocations) all() []url.Values {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]url.Values(nil), rv.forms...)
}

// recordRevocations records every revocation request that reaches b's
// proxy until t ends, then lets answer (nil: none) answer it in b's place
// (it returns true when it did) or pass it on to b.
func recordRevocations(t *testing.T, p *tamperProxy, answer func(w http.ResponseWriter, r *http.Request) bool) *revocations {
	t.Helper()
	rv := &revocations{}
	p.mu.Lock()
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/revoke" {
			return false
		}
		raw, err := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw)) // b reads it as it came
		form, perr := url.ParseQuery(string(raw))
		if err != nil || perr != nil {
			t.Errorf("revocation request: %v %v", err, perr)
		}
		rv.mu.Lock()
		rv.forms = append(rv.forms, form)
		rv.mu.Unlock()
		return answer != nil && answer(w, r)
	}
	p.mu.Unlock()
	t.Cleanup(func() { p.mu.Lock(); p.intercept = nil; p.mu.Unlock() })
	return rv
}

// twoLinked signs two people in at a through b, each keeping b's refresh
// token on the link.
func twoLinked(t *testing.T, f *refreshFed) {
	t.Helper()
	const otherEmail, otherPassword = "ada@corp.example", "marble orchard kestrel 7"
	f.b.CreateUser(t, fedEmail, fedPassword)
	f.b.CreateUser(t, otherEmail, otherPassword)
	f.signIn(t, fedEmail, fedPassword)
	f.signIn(t, otherEmail, otherPassword)
	f.a.App.Upstreams.Wait()
	var n int64
	if err := f.a.DB.Gorm.Table("upstream_links").Where("token_sealed IS NOT NULL").Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("%d links with a kept grant at a (%v), want 2", n, err)
	}
}

func deleteCorp(t *testing.T, f *refreshFed) {
	t.Helper()
	if err := f.a.App.Admin.DeleteUpstream(context.Background(), admin.Actor{Name: "root"}, "corp"); err != nil {
		t.Fatalf("delete upstream: %v", err)
	}
	if n := rowCount(t, f.a, "upstream_links", ""); n != 0 {
		t.Errorf("%d links left after the upstream was deleted", n)
	}
	if _, err := f.a.App.Upstreams.Store().ByID(context.Background(), "corp"); err == nil {
		t.Error("the upstream is still there")
	}
}

// TestUpstreamDeleteGivesBackEveryGrant: both links' refresh tokens reach
// b's revocation endpoint, through the discovery a has cached or, when it
// has none (an update dropped it, or a restart), one fetched for them.
func TestUpstreamDeleteGivesBackEveryGrant(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(map[bool]string{true: "cached discovery", false: "fresh discovery"}[cached], func(t *testing.T) {
			testDeleteGivesBack(t, cached)
		})
	}
}

func testDeleteGivesBack(t *testing.T, cached bool) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	twoLinked(t, f)
	if !cached {
		name := "Corp, renamed"
		if _, err := f.a.App.Admin.UpdateUpstream(context.Background(), admin.Actor{Name: "root"}, "corp",
			upstreams.Update{Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	discovered := f.proxy.tamper(t, "/.well-known/openid-configuration", func(map[string]any) {})
	rv := recordRevocations(t, f.proxy, nil)
	deleteCorp(t, f)
	f.a.App.Upstreams.Wait()
	if want := map[bool]int{true: 0, false: 1}[cached]; discovered() != want {
		t.Errorf("a fetched b's discovery %d times to give back, want %d", discovered(), want)
	}

	forms := rv.all()
	if len(forms) != 2 {
		t.Fatalf("b got %d revocation requests, want one per link: %v", len(forms), forms)
	}
	if forms[0].Get("token") == "" || forms[0].Get("token") == forms[1].Get("token") {
		t.Errorf("b was not given back two distinct tokens")
	}
	for _, form := range forms {
		if form.Get("token_type_hint") != "refresh_token" {
			t.Errorf("token_type_hint %q, want refresh_token", form.Get("token_type_hint"))
		}
	}
	// b took them: both of its families for idp are revoked.
	if n := revokedFamilies(t, f.b); n != 2 {
		t.Errorf("%d families revoked at b, want both", n)
	}
	if strings.Contains(f.log.String(), "upstream token not revoked") {
		t.Errorf("a logged a failed revocation:\n%s", f.log.String())
	}
	if n := audited(t, f.a, "upstream.delete", ""); n != 1 {
		t.Errorf("%d upstream.delete audits, want 1", n)
	}
}

// TestUpstreamDeleteDoesNotWaitOnUpstream: an upstream whose revocation
// endpoint fails, cannot be reached or hangs does not stop or hold up the
// deletion; the failure is logged, never the token.
func TestUpstreamDeleteDoesNotWaitOnUpstream(t *testing.T) {
	cases := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"500": func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "broken", http.StatusInternalServerError)
			return true
		},
		"unreachable": func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // the connection drops without an answer
			}
			return true
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
			twoLinked(t, f)
			rv := recordRevocations(t, f.proxy, answer)
			deleteCorp(t, f)
			f.a.App.Upstreams.Wait()
			if n := len(rv.all()); n != 2 {
				t.Errorf("b got %d revocation requests, want 2", n)
			}
			if n := revokedFamilies(t, f.b); n != 0 {
				t.Errorf("%d families revoked at b, which never got the requests", n)
			}
			logs := f.log.String()
			if strings.Count(logs, "upstream token not revoked") != 2 {
				t.Errorf("want two logged failures:\n%s", logs)
			}
			for _, form := range rv.all() {
				if strings.Contains(logs, form.Get("token")) {
					t.Fatal("a logged the upstream token")
				}
			}
		})
	}

	t.Run("hangs", func(t *testing.T) {
		f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
		twoLinked(t, f)
		release := make(chan struct{})
		var answered atomic.Bool
		recordRevocations(t, f.proxy, func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			answered.Store(true)
			return false
		})
		deleteCorp(t, f)
		if answered.Load() {
			t.Error("the deletion waited for the upstream's revocation endpoint")
		}
		close(release)
		f.a.App.Upstreams.Wait()
		if n := revokedFamilies(t, f.b); n != 2 {
			t.Errorf("%d families revoked at b once it answered, want 2", n)
		}
	})
}
