// Command webapp is an example relying web app for idp: it signs users in
// with the authorization code flow (PKCE, state, nonce), keeps its own
// server-side session holding idp's tokens, checks the access token on
// every protected request with idp/verifier, refreshes it silently when it
// expires, and signs out at idp too. See README.md for running it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, addr, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(2)
	}
	cfg.Logger = log
	if err := run(cfg, addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// parseFlags reads the configuration: a flag wins over the environment,
// which wins over the default.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (Config, string, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var cfg Config
	var addr string
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Issuer, "issuer", env("WEBAPP_ISSUER", "http://localhost:8080"), "idp's issuer URL (env WEBAPP_ISSUER)")
	fs.StringVar(&cfg.ClientID, "client-id", env("WEBAPP_CLIENT_ID", "webapp"), "client id registered at idp (env WEBAPP_CLIENT_ID)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", env("WEBAPP_CLIENT_SECRET", ""), "client secret (env WEBAPP_CLIENT_SECRET; prefer the environment, flags show in ps)")
	fs.StringVar(&addr, "addr", env("WEBAPP_ADDR", "localhost:9090"), "listen address (env WEBAPP_ADDR)")
	fs.StringVar(&cfg.RedirectURL, "redirect-url", env("WEBAPP_REDIRECT_URL", "http://localhost:9090/callback"), "registered redirect URI; its path is the callback route (env WEBAPP_REDIRECT_URL)")
	fs.StringVar(&cfg.PostLogoutRedirectURL, "post-logout-redirect-url", env("WEBAPP_POST_LOGOUT_REDIRECT_URL", ""), "registered post_logout_redirect_uri; default the redirect URL's origin + \"/\" (env WEBAPP_POST_LOGOUT_REDIRECT_URL)")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.ClientSecret == "" {
		return cfg, "", errors.New("the client secret is required: set WEBAPP_CLIENT_SECRET or --client-secret")
	}
	return cfg, addr, nil
}

// run serves the app until SIGINT or SIGTERM, then shuts down gracefully.
func run(cfg Config, addr string, log *slog.Logger) error {
	h, err := newApp(cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("webapp listening", "addr", addr, "issuer", cfg.Issuer, "client_id", cfg.ClientID)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
