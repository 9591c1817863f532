package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ReuseCheck is what the post-run check of the refresh chains found. For
// each chain it presents the previous token again: inside the server's
// grace window that must return the very token the chain already holds (a
// lost response retried); outside it, or with a grace of 0s, it must be
// invalid_grant. After the reuse, the chain's newest token must be
// invalid_grant too: reuse revokes the whole family.
type ReuseCheck struct {
	Chains          int            `json:"chains"`
	Intact          int            `json:"intact"`
	Skipped         int            `json:"skipped"`
	ReplayedInGrace int            `json:"replayed_in_grace"`
	Failures        map[string]int `json:"failures,omitempty"`
	Example         string         `json:"example,omitempty"`
	mu              sync.Mutex
}

// OK reports whether every checked chain kept its reuse detection.
func (r *ReuseCheck) OK() bool { return r == nil || len(r.Failures) == 0 }

func (r *ReuseCheck) fail(what, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failures[what]++
	if r.Example == "" {
		r.Example = what + ": " + detail
	}
}

// replay is the outcome of presenting a refresh token.
type replay struct {
	status int
	err    string // the OAuth error code, if any
	token  string // the refresh_token answered, if any
	detail string
}

func (w *worker) present(token string) replay {
	resp, body, err := w.postForm(w.api, w.t.endpoints.Token,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, &w.t.cfg.Client)
	if err != nil {
		return replay{detail: err.Error()}
	}
	var v struct {
		Error        string `json:"error"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(body, &v)
	return replay{status: resp.StatusCode, err: v.Error, token: v.RefreshToken, detail: string(body)}
}

func (r replay) invalidGrant() bool {
	return r.status == http.StatusBadRequest && r.err == "invalid_grant"
}

// checkChains runs the reuse check on every worker whose chain is in a
// known state (it refreshed at least once and its last refresh succeeded).
func checkChains(workers []*worker, cfg *Config) *ReuseCheck {
	rc := &ReuseCheck{Failures: map[string]int{}}
	var live []*worker
	for _, w := range workers {
		if w.chainOK && w.prev != "" {
			live = append(live, w)
		} else {
			rc.Skipped++
		}
	}
	rc.Chains = len(live)
	inGrace := make([]bool, len(live))
	parallel(live, func(i int, w *worker) {
		r := w.present(w.prev)
		switch {
		case r.status == http.StatusOK && r.token == w.cur:
			inGrace[i] = true
		case r.status == http.StatusOK:
			rc.fail("replay minted a second token", "a spent refresh token got a different new token")
		case !r.invalidGrant():
			rc.fail("replay of the previous token not refused", r.describe())
		}
	})
	if anyTrue(inGrace) {
		sleep := cfg.Sleep
		if sleep == nil {
			sleep = time.Sleep
		}
		sleep(cfg.ReuseGrace + time.Second)
	}
	parallel(live, func(i int, w *worker) {
		if inGrace[i] {
			rc.mu.Lock()
			rc.ReplayedInGrace++
			rc.mu.Unlock()
			if r := w.present(w.prev); !r.invalidGrant() {
				rc.fail("reuse after the grace window not refused", r.describe())
				return
			}
		}
		if r := w.present(w.cur); !r.invalidGrant() {
			rc.fail("newest token still works after a reuse", r.describe())
			return
		}
		rc.mu.Lock()
		rc.Intact++
		rc.mu.Unlock()
	})
	return rc
}

func (r replay) describe() string {
	d := r.detail
	if len(d) > 200 {
		d = d[:200]
	}
	return "HTTP " + http.StatusText(r.status) + " " + d
}

func parallel(ws []*worker, fn func(i int, w *worker)) {
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { fn(i, w) })
	}
	wg.Wait()
}

func anyTrue(b []bool) bool {
	for _, v := range b {
		if v {
			return true
		}
	}
	return false
}
