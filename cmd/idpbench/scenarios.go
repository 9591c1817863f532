package main

import (
	"fmt"
)

// Scopes of the browser flows.
const (
	scopeUser    = "openid profile email"
	scopeOffline = "openid profile email offline_access"
)

// scenario is one kind of load: an optional per-worker setup (not
// measured) and the operation each worker repeats.
type scenario struct {
	name   string
	setup  func(w *worker) error
	op     func(w *worker) error
	chains bool // check each worker's refresh chain afterwards
	cc     *Cred
}

// scenarios expands the configured names into runs: client_credentials
// becomes one run per client.
func scenarios(cfg *Config) []scenario {
	var out []scenario
	for _, name := range cfg.Scenarios {
		switch name {
		case "jwks":
			out = append(out, scenario{name: name, op: opJWKS})
		case "discovery":
			out = append(out, scenario{name: name, op: opDiscovery})
		case "client_credentials":
			for _, c := range cfg.ccClients() {
				out = append(out, scenario{name: name, cc: &c, op: opClientCredentials})
			}
		case "refresh":
			out = append(out, scenario{name: name, setup: setupRefresh, op: opRefresh, chains: true})
		case "code":
			out = append(out, scenario{name: name, op: opCode})
		case "sso":
			out = append(out, scenario{name: name, setup: setupSession, op: opSSO})
		case "userinfo":
			out = append(out, scenario{name: name, setup: setupSession, op: opUserInfo})
		case "mix":
			out = append(out, scenario{name: name, setup: setupOffline, op: opMix, chains: true})
		}
	}
	return out
}

// setupSession signs the worker's browser in once and keeps an access token.
func setupSession(w *worker) error { return w.signedInGrant(scopeUser, true) }

// setupOffline signs in once and starts a refresh chain.
func setupOffline(w *worker) error { return w.signedInGrant(scopeOffline, true) }

// setupRefresh starts a refresh chain: by signing in, or from
// --refresh-token-url for a provider idpbench cannot sign in to.
func setupRefresh(w *worker) error { return w.startChain(true) }

func opJWKS(w *worker) error { return w.static(w.t.endpoints.JWKS, w.t.jwks, checkJWKS) }

func opDiscovery(w *worker) error {
	return w.static(w.t.issuer+"/.well-known/openid-configuration", w.t.discovery, checkDiscovery(w.t.issuer))
}

func opClientCredentials(w *worker) error { return w.clientCredentials() }

// opRefresh refreshes the chain; a chain broken by an earlier failure is
// first replaced (through the live session, or from --refresh-token-url),
// so one error does not turn every later request of this worker into one.
func opRefresh(w *worker) error {
	if !w.chainOK {
		if err := w.startChain(false); err != nil {
			return fmt.Errorf("restart chain: %w", err)
		}
	}
	return w.refresh()
}

// opCode is a first visit: a new browser, the sign-in form (argon2id on the
// server), the code and its exchange.
func opCode(w *worker) error {
	b := w.t.browser()
	p := newPKCE()
	code, err := w.authorize(b, scopeUser, p, true)
	if err != nil {
		return err
	}
	_, err = w.exchange(code, p)
	return err
}

// opSSO is a return visit: the live session answers at once with a code,
// which the client exchanges; no password.
func opSSO(w *worker) error { return w.signedInGrant(scopeUser, false) }

func opUserInfo(w *worker) error { return w.userinfo() }

// mixOps are the operations --mix can weigh. "code" is a code flow on a
// live session (authorize + exchange); "login" a first visit with sign-in.
var mixOps = map[string]func(w *worker) error{
	"code":               opSSO,
	"login":              opCode,
	"refresh":            opRefresh,
	"client_credentials": opClientCredentials,
	"userinfo":           opUserInfo,
	"jwks":               opJWKS,
	"discovery":          opDiscovery,
}

// opMix picks one operation by weight.
func opMix(w *worker) error {
	name := w.pickMix()
	w.rec.opCounts[name]++
	return mixOps[name](w)
}

func (w *worker) pickMix() string {
	r := w.rnd.IntN(w.t.mixTotal)
	for i, n := range w.t.mixNames {
		if r < w.t.mixWeights[i] {
			return n
		}
		r -= w.t.mixWeights[i]
	}
	return "jwks" // unreachable: the weights add up to mixTotal
}

// setMix precomputes the mix's cumulative choice in a fixed order.
func (t *target) setMix(mix map[string]int) {
	t.mixNames, t.mixWeights, t.mixTotal = nil, nil, 0
	for _, n := range mixOpNames() {
		if mix[n] > 0 {
			t.mixNames = append(t.mixNames, n)
			t.mixWeights = append(t.mixWeights, mix[n])
			t.mixTotal += mix[n]
		}
	}
}
