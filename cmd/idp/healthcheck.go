package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck is `idp healthcheck [--url URL]`: it GETs the readiness
// endpoint and succeeds only on 200. Container images without curl or wget
// (distroless) use it as their HEALTHCHECK. Without --url it asks
// /readyz on the loopback address of --addr (IDP_ADDR), so it follows the
// port the server in the same container listens on.
func runHealthcheck(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "healthcheck", "healthcheck [--url URL] [--addr ADDR]", sAddr)
	target := fs.String("url", "", "URL to GET; 200 is healthy (default http://127.0.0.1:<port of --addr>/readyz)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	fs.s.resolve(fs.FlagSet, osGetenv)
	u := *target
	if u == "" {
		var err error
		if u, err = readyzURL(fs.s.get("addr").value); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", u, resp.StatusCode)
	}
	fmt.Fprintln(s.out, "ok")
	return nil
}

// readyzURL is /readyz on the loopback address of a listen address such as
// ":8080" or "0.0.0.0:8080"; a specific host is kept.
func readyzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: --addr %q is not host:port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
