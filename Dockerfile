# syntax=docker/dockerfile:1
# Build: a full Go toolchain with gcc (SQLite's driver, mattn/go-sqlite3,
# uses cgo), on Debian 12 so the binary links against the same glibc as the
# runtime image below.
FROM golang:1.26-bookworm AS build
# The approved release toolchain (fixes standard-library advisories of
# go1.26.8); the go command fetches it through the module proxy.
ENV GOTOOLCHAIN=go1.27.3
# RS256 signs on the system libcrypto (-tags libcrypto: OpenSSL's RSA is
# several times crypto/rsa's speed; CI compares the two byte for byte). The
# runtime image below has libssl3.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -tags libcrypto -trimpath -ldflags="-s -w" -o /out/idp ./cmd/idp && mkdir -p /out/data

# Run: distroless Debian 12 "base" (glibc, CA certificates, no shell), as an
# unprivileged user. "static" would not do: the cgo binary needs glibc.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/idp /usr/local/bin/idp
# /data belongs to the runtime user so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
ENV IDP_ADDR=:8080 \
    IDP_DATABASE=/data/idp.db
EXPOSE 8080
USER nonroot:nonroot
# No curl in distroless: the binary checks its own /readyz.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/idp", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
