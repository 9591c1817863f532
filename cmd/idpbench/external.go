package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// What idpbench needs to drive another provider the same way as idp
// (bench/side-by-side.sh against node-oidc-provider): refresh chains that
// start without its sign-in pages, and its CPU time without idp's /metrics.

// mintChain starts the worker's refresh chain with a token from
// --refresh-token-url: a POST with the browser-flow client's Basic
// credentials answered by {"refresh_token": "…"}. Only the set-up uses
// it; every measured refresh is a refresh_token grant on the token
// endpoint.
func (w *worker) mintChain() error {
	cfg := w.t.cfg
	resp, body, err := w.postForm(w.api, cfg.RefreshTokenURL, url.Values{}, &cfg.Client)
	if err != nil {
		return err
	}
	var v struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := expectJSON(resp, body, &v); err != nil {
		return err
	}
	if v.RefreshToken == "" {
		return protocolFailure("%s answered no refresh_token", cfg.RefreshTokenURL)
	}
	w.cur, w.prev, w.chainOK = v.RefreshToken, "", true
	return nil
}

// startChain starts a refresh chain: from --refresh-token-url when set,
// else by a code flow in the worker's browser (signing in if signIn).
func (w *worker) startChain(signIn bool) error {
	if w.t.cfg.RefreshTokenURL != "" {
		return w.mintChain()
	}
	return w.signedInGrant(scopeOffline, signIn)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go runs on (sysconf(_SC_CLK_TCK) without cgo).
const clockTicks = 100

// procCPU returns the user + system CPU seconds of process pid from
// /proc/PID/stat (proc(5): fields 14 and 15), or false.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime + stime from a /proc/PID/stat line. The
// command name (field 2) is in parentheses and may hold spaces, so fields
// are counted from the last ')'.
func parseProcStat(line string) (float64, bool) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(ut+st) / clockTicks, true
}
