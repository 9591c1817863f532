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
	for range 2 {
		if _, err := http.Get(env.URL + "/.well-known/jwks.json"); err != nil {
			t.Fatal(err)
		}
	}
	// Invented methods and paths fold into bounded series.
	for _, m := range []string{"BREW", "PROPFIND"} {
		req, _ := http.NewRequest(m, env.URL+"/no/such/"+m, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
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
		`idp_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"} 2`,
		`idp_http_request_duration_seconds_count{route="/.well-known/jwks.json"} 2`,
		`idp_signing_keys{alg="RS256",state="active"} 1`,
		`idp_signing_keys{alg="ES256",state="next"} 1`,
		`idp_signing_key_age_seconds{alg="ES256",state="active"}`,
		`idp_refresh_reuse_detected_total 0`,
		`go_sql_max_open_connections{db_name="idp"}`,
		`idp_db_write_gate_waits_total`,
		`idp_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, unwanted := range []string{"BREW", "PROPFIND", "/no/such"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("/metrics has a series for the invented %q", unwanted)
		}
	}
	if !strings.Contains(body, `method="other"`) {
		t.Error("invented methods are not counted as other")
	}
}
