# make bench: build idp and idpbench, prepare a throwaway provider (SQLite in
# a temp dir, or BENCH_DATABASE=postgres://…) with idp's own admin commands,
# serve it on 127.0.0.1, run the standard scenarios plus the references, stop
# it. See docs/PERFORMANCE.md.
GO          ?= go
BENCH_ARGS  ?= --scenario jwks,discovery,client_credentials,refresh,code,sso,userinfo --reference \
               --concurrency 64 --duration 10s --warmup 2s

.PHONY: bench bench-mix bench-side bin/idp bin/idp-libcrypto bin/idpbench release

# Release binaries: the approved toolchain (it fixes the standard-library
# advisories of go1.26.8) and RS256 on the system libcrypto, as the
# container image is built. `go run ./cmd/idp` stays pure Go.
RELEASE_TOOLCHAIN ?= go1.27.3
release:
	GOTOOLCHAIN=$(RELEASE_TOOLCHAIN) CGO_ENABLED=1 $(GO) build -tags libcrypto -trimpath -ldflags="-s -w" -o bin/idp-release ./cmd/idp

bin/idp:
	$(GO) build -o bin/idp ./cmd/idp

# idp with the optional RS256 signer on the system libcrypto (cgo, libssl-dev):
# make bin/idp-libcrypto && BENCH_IDP=bin/idp-libcrypto make bench
bin/idp-libcrypto:
	$(GO) build -tags libcrypto -o bin/idp-libcrypto ./cmd/idp

bin/idpbench:
	$(GO) build -o bin/idpbench ./cmd/idpbench

bench: bin/idp bin/idpbench
	cmd/idpbench/bench.sh $(BENCH_ARGS)

# The issue-7 load test: 256 concurrent clients on the mix for 30 s.
bench-mix: bin/idp bin/idpbench
	cmd/idpbench/bench.sh --scenario mix --concurrency 256 --duration 30s --warmup 2s

# Issue 19: idp (release build) and node-oidc-provider 9 side by side,
# client_credentials and refresh RS256; needs node and npm.
bench-side:
	bench/side-by-side.sh
