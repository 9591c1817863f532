# syntax=docker/dockerfile:1
# Build: a full Go toolchain with gcc (SQLite's driver uses cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/idp ./cmd/idp && mkdir -p /out/data

# Run: a small Debian base with CA certificates, as an unprivileged user.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/idp /usr/local/bin/idp
# /data belongs to the runtime user so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
ENV IDP_ADDR=:8080 \
    IDP_DATABASE=/data/idp.db
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
