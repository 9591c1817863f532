package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"idp/server/servertest"
)

func TestMetrics(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	tryLogin(t, env, env.Browser(t), testEmail, "wrong password!")
	tryLogin(t, env, env.Browser(t), testEmail, testPassword)
	if _, err := http.Get(env.URL + "/.well-known/jwks.json"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`idp_signins_total{outcome="failure"} 1`,
		`idp_signins_total{outcome="success"} 1`,
		`idp_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"} 1`,
		`idp_signing_keys{alg="RS256",state="active"} 1`,
		`idp_signing_keys{alg="ES256",state="next"} 1`,
		`idp_signing_key_age_seconds{alg="ES256",state="active"}`,
		`idp_refresh_reuse_detected_total 0`,
		`go_sql_max_open_connections{db_name="idp"}`,
		`idp_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
