package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
// from a plain net/http handler on 127.0.0.1.
func startBare(ctx context.Context, idp *target) (*target, func(), error) {
	docs := map[string][]byte{"/.well-known/jwks.json": idp.jwks, "/.well-known/openid-configuration": idp.discovery}
	headers := map[string]http.Header{}
	c := idp.client(nil)
	for path := range docs {
		u := idp.issuer + path
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("GET %s: %w", u, err)
		}
		resp.Body.Close()
		h := resp.Header.Clone()
		h.Del("Date")
		h.Del("Content-Length")
		h.Del("X-Request-Id")
		headers[path] = h
	}
	mux := http.NewServeMux()
	for path, body := range docs {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			for k, v := range headers[path] {
				w.Header()[k] = v
			}
			_, _ = w.Write(body)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	t := &target{cfg: idp.cfg, issuer: base, tr: newTransport(idp.cfg.Concurrency), jwks: idp.jwks,
		discovery: idp.discovery, ver: idp.ver}
	t.endpoints = endpoints{Issuer: base, JWKS: base + "/.well-known/jwks.json"}
	stop := func() {
		_ = srv.Close()
		t.tr.CloseIdleConnections()
	}
	return t, stop, nil
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
