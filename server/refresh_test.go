package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// offlineTokens signs a user in to a confidential client with
// offline_access and returns the token response.
func offlineTokens(t *testing.T, env *servertest.Env, spec clients.Spec) (*rp, *oauth2.Token) {
	t.Helper()
	env.CreateUser(t, testEmail, testPassword)
	app := newRP(t, env, spec)
	app.conf.Scopes = append(app.conf.Scopes, "offline_access")
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
	tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	return app, tok
}

// refresh posts a refresh_token grant and returns status and raw body.
func refresh(t *testing.T, app *rp, token string) (int, []byte) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	req, _ := http.NewRequest(http.MethodPost, app.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(app.conf.ClientID), url.QueryEscape(app.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestRefreshRotationGraceAndReuse(t *testing.T) {
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})

	status, first := refresh(t, app, tok.RefreshToken)
	if status != 200 {
		t.Fatalf("refresh: %d %s", status, first)
	}
	var r1 struct{ RefreshToken, AccessToken string }
	_ = json.Unmarshal(first, &struct {
		R *string `json:"refresh_token"`
		A *string `json:"access_token"`
	}{&r1.RefreshToken, &r1.AccessToken})
	if r1.RefreshToken == "" || r1.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh token not rotated: %s", first)
	}
	// A lost response retried inside the grace window: byte-identical.
	env.Clock.Advance(5 * time.Second)
	if status, again := refresh(t, app, tok.RefreshToken); status != 200 || string(again) != string(first) {
		t.Fatalf("retry in grace: %d, identical=%v", status, string(again) == string(first))
	}
	// After the window the reuse revokes the family, newest token included.
	env.Clock.Advance(6 * time.Second)
	if status, body := refresh(t, app, tok.RefreshToken); status != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("reuse after grace: %d %s", status, body)
	}
	if status, body := refresh(t, app, r1.RefreshToken); status != 400 {
		t.Fatalf("newest token still works after reuse: %d %s", status, body)
	}
	info, err := app.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: r1.AccessToken}))
	if err == nil {
		t.Fatalf("access token of a revoked family still works: %+v", info)
	}
}

func TestRefreshRaceMintsOneChild(t *testing.T) {
	for _, grace := range []time.Duration{10 * time.Second, 0} {
		t.Run(grace.String(), func(t *testing.T) {
			env := servertest.New(t, func(c *server.Config) { c.RefreshReuseGrace = grace })
			app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
			const racers = 50
			var wg sync.WaitGroup
			bodies := make([]string, racers)
			codes := make([]int, racers)
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, b := refresh(t, app, tok.RefreshToken)
					codes[i], bodies[i] = c, string(b)
				}()
			}
			wg.Wait()
			children := map[string]bool{}
			ok := 0
			for i := range racers {
				if codes[i] == 200 {
					ok++
					children[bodies[i]] = true
				}
			}
			if len(children) != 1 {
				t.Fatalf("%d distinct children minted, want 1", len(children))
			}
			if grace > 0 && ok != racers {
				t.Fatalf("%d of %d racers inside the grace window got the child", ok, racers)
			}
			if grace == 0 && ok != 1 {
				t.Fatalf("strict mode: %d racers succeeded, want 1", ok)
			}
		})
	}
}
