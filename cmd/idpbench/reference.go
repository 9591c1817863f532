package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/argon2"
)

// references measures what the machine does without idp in the way, for
// the same duration: the bare handler with the same client and
// concurrency, raw signing on GOMAXPROCS threads, raw argon2id on 2.
func references(ctx context.Context, idp *target, emit func(Result)) error {
	cfg := idp.cfg
	bare, stop, err := startBare(ctx, idp)
	if err != nil {
		return err
	}
	for _, sc := range []scenario{{name: "bare jwks", op: opJWKS}, {name: "bare discovery", op: opDiscovery}} {
		if ctx.Err() != nil {
			break
		}
		before := loadAvg()
		res := bare.runScenario(ctx, sc, cfg.Concurrency)
		res.Kind, res.Load1[0] = "reference", before
		emit(res)
	}
	stop()
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256} {
		if ctx.Err() != nil {
			break
		}
		op, err := signLoop(alg)
		if err != nil {
			return err
		}
		emit(cpuLoop(ctx, "raw sign "+string(alg), procs(), cfg, op))
	}
	if ctx.Err() == nil {
		emit(cpuLoop(ctx, "raw argon2id", 2, cfg, argon2Loop))
	}
	return ctx.Err()
}

// startBare serves idp's own JWKS and discovery bytes, with idp's headers,
// from a plain net/http handler on 127.0.0.1 inside this process.
func startBare(ctx context.Context, idp *target) (*target, func(), error) {
	mux, err := bareHandler(ctx, idp.client(nil), idp.issuer, idp.jwks, idp.discovery)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t := bareTarget(idp, "http://"+ln.Addr().String())
	stop := func() {
		_ = srv.Close()
		t.tr.CloseIdleConnections()
	}
	return t, stop, nil
}

// bareTarget is the target for a bare handler at base serving idp's bytes.
func bareTarget(idp *target, base string) *target {
	t := &target{cfg: idp.cfg, issuer: base, tr: newTransport(idp.cfg.Concurrency), jwks: idp.jwks,
		discovery: idp.discovery, ver: idp.ver}
	t.endpoints = endpoints{Issuer: base, JWKS: base + "/.well-known/jwks.json"}
	return t
}

// bareHandler serves jwks and discovery with the headers idp sent for them
// (but Date, Content-Length and X-Request-Id, which net/http or nobody
// sets), and nothing else.
func bareHandler(ctx context.Context, c *http.Client, issuer string, jwks, discovery []byte) (*http.ServeMux, error) {
	docs := map[string][]byte{"/.well-known/jwks.json": jwks, "/.well-known/openid-configuration": discovery}
	mux := http.NewServeMux()
	for path, body := range docs {
		u := issuer + path
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		resp.Body.Close()
		h := resp.Header.Clone()
		h.Del("Date")
		h.Del("Content-Length")
		h.Del("X-Request-Id")
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			for k, v := range h {
				w.Header()[k] = v
			}
			_, _ = w.Write(body)
		})
	}
	return mux, nil
}

// processReferences measures the bare handler that `idpbench bare` serves
// in a process of its own at base: the same handler as the in-process
// reference, but behind the same process boundary as idp. Its /metrics
// gives its CPU time.
func processReferences(ctx context.Context, idp *target, base string, emit func(Result)) {
	t := bareTarget(idp, strings.TrimSuffix(base, "/"))
	t.metricsURL = t.issuer + "/metrics"
	defer t.tr.CloseIdleConnections()
	for _, sc := range []scenario{{name: "bare jwks, own process", op: opJWKS}, {name: "bare discovery, own process", op: opDiscovery}} {
		if ctx.Err() != nil {
			return
		}
		before := loadAvg()
		res := t.runScenario(ctx, sc, idp.cfg.Concurrency)
		res.Kind, res.Load1[0] = "reference", before
		emit(res)
	}
}

// serveBare is `idpbench bare`: it serves the running idp's JWKS and
// discovery from a bare handler at --addr until ctx ends.
func serveBare(ctx context.Context, args []string, errOut io.Writer) error {
	fs := flag.NewFlagSet("idpbench bare", flag.ContinueOnError)
	fs.SetOutput(errOut)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "issuer URL of the running idp whose documents to serve")
	addr := fs.String("addr", "127.0.0.1:18090", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return serveBareOn(ctx, ln, *issuer)
}

// serveBareOn fetches idp's documents and serves them on ln, with a
// /metrics that reports this process's CPU time, until ctx ends.
func serveBareOn(ctx context.Context, ln net.Listener, issuer string) error {
	defer ln.Close()
	base := strings.TrimSuffix(issuer, "/")
	c := &http.Client{Transport: newTransport(1), Timeout: 10 * time.Second}
	jwks, err := fetch(ctx, c, base+"/.well-known/jwks.json")
	if err != nil {
		return err
	}
	discovery, err := fetch(ctx, c, base+"/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	mux, err := bareHandler(ctx, c, base, jwks, discovery)
	if err != nil {
		return err
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", selfCPU())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cpuLoop runs op on threads goroutines for the warm-up plus the duration.
func cpuLoop(ctx context.Context, name string, threads int, cfg *Config, op func() func() error) Result {
	before := loadAvg()
	from := time.Now().Add(cfg.Warmup)
	end := from.Add(cfg.Duration)
	recs := make([]*recorder, threads)
	var none *target
	usage := none.watch(ctx, from, end)
	var wg sync.WaitGroup
	for i := range recs {
		recs[i] = newRecorder()
		wg.Go(func() {
			w := &worker{rec: recs[i]}
			run := op()
			w.loop(ctx, func(*worker) error { return run() }, from, end)
		})
	}
	wg.Wait()
	res := merge(name, recs, cfg.Duration)
	res.Usage = usage(res.OpsPerSec)
	res.Kind, res.ReqPerSec, res.Load1[0] = "reference", 0, before
	return res
}

// signLoop returns a per-thread factory signing an access-token-sized
// payload (claims marshalled each time, as idp does) with a fresh key of alg.
func signLoop(alg jose.SignatureAlgorithm) (func() func() error, error) {
	var key any
	var err error
	switch alg {
	case jose.RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	return func() func() error {
		opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "reference-key")
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			return func() error { return err }
		}
		return func() error {
			now := time.Now().Unix()
			payload, _ := json.Marshal(map[string]any{"iss": "http://127.0.0.1:8080", "sub": "bench-client",
				"aud": []string{"bench-client"}, "client_id": "bench-client", "exp": now + 600, "iat": now,
				"jti": rand.Text(), "scope": "api:read", "roles": []string{}})
			jws, err := signer.Sign(payload)
			if err != nil {
				return err
			}
			_, err = jws.CompactSerialize()
			return err
		}
	}, nil
}

// argon2Loop hashes with idp's users.DefaultParams (OWASP: m=19456 KiB,
// t=2, p=1) and a fresh salt each time, as a sign-in does.
func argon2Loop() func() error {
	return func() error {
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		_ = argon2.IDKey([]byte("bench password 1234"), salt, 2, 19456, 1, 32)
		return nil
	}
}
