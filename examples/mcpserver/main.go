// Command mcpserver is a small MCP (Model Context Protocol) server that
// is an OAuth 2.0 protected resource of idp: it publishes RFC 9728
// metadata naming idp as its authorization server, answers requests
// without a valid token with 401 and the metadata's URL, and accepts only
// access tokens idp issued for it (aud = its resource URL), verified with
// package verifier. An MCP client that knows nothing but the server's URL
// discovers idp, registers itself (RFC 7591), signs its user in with the
// code flow, PKCE and a resource indicator, and calls the tools.
//
//	go run ./examples/mcpserver --issuer http://localhost:8080 --addr :9000 \
//	    --resource http://localhost:9000/mcp
//
// idp needs --registration open for clients that register themselves
// (MCP clients do).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"idp/verifier"
)

func main() {
	issuer := flag.String("issuer", "http://localhost:8080", "idp's issuer URL")
	addr := flag.String("addr", ":9000", "listen address")
	resource := flag.String("resource", "http://localhost:9000/mcp", "this server's MCP endpoint as clients reach it: the resource its tokens are for")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h, err := New(ctx, *issuer, *resource)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpserver:", err)
		os.Exit(1)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	slog.Info("MCP server", "addr", *addr, "resource", *resource, "authorization_server", *issuer)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "mcpserver:", err)
		os.Exit(1)
	}
}

// New returns the server's handler: the MCP endpoint at the resource URL's
// path and its RFC 9728 metadata.
func New(ctx context.Context, issuer, resource string) (http.Handler, error) {
	// Audience defaults to Resource: idp issues tokens for the resource
	// with aud set to it (RFC 8707).
	v, err := verifier.New(ctx, verifier.Config{Issuer: issuer, Resource: resource})
	if err != nil {
		return nil, err
	}
	return newServer(v)
}
