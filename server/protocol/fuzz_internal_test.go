package protocol

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"idp/oauth"
	"idp/server/plumbing"
)

// FuzzBasicAuth checks the client_secret_basic parser (RFC 6749 §2.3.1):
// it never panics, a failure is always invalid_client, a header that is
// not Basic is ignored, and any id and secret that are UTF-8 text survive
// the round trip through form-urlencoding and base64 (others are refused:
// PostgreSQL could not look them up).
func FuzzBasicAuth(f *testing.F) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		"", "Basic", "Basic ", "basic " + enc("a:b"), "BASIC " + enc("web:s3cret"), "Basic " + enc(":"),
		"Basic " + enc("a%3Ab:c%25d"), "Basic " + enc("no-colon"), "Basic " + enc("%zz:x"), "Basic " + enc("x:%zz"),
		"Basic !!!!", "Basic " + enc("a:b") + "=", "Bearer abc", "Basic\t" + enc("a:b"), "Basic  " + enc("a:b") + " ",
		"Basic " + enc(strings.Repeat("a", 1030)+":b"), "Digest username=x",
	} {
		f.Add(h, "web", "s3cret")
	}
	f.Add("", "a:b c+d%", "é\x00\xff")
	f.Fuzz(func(t *testing.T, header, id, secret string) {
		gid, gsecret, ok, err := basicAuth(header)
		switch {
		case err != nil:
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != "invalid_client" || ok {
				t.Fatalf("basicAuth(%q): ok %v, error %v; want invalid_client", header, ok, err)
			}
		case !ok:
			if gid != "" || gsecret != "" {
				t.Fatalf("basicAuth(%q) not Basic but returned %q:%q", header, gid, gsecret)
			}
		default:
			if scheme, _, _ := strings.Cut(header, " "); !strings.EqualFold(scheme, "Basic") {
				t.Fatalf("basicAuth(%q) accepted a %q header", header, scheme)
			}
		}
		raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		gid, gsecret, ok, err = basicAuth("Basic " + enc(raw))
		if len(raw) > 1024 || !plumbing.ValidText(id) || !plumbing.ValidText(secret) {
			if err == nil {
				t.Fatalf("an oversized or non-text (%d bytes) id:secret was accepted", len(raw))
			}
			return
		}
		if err != nil || !ok || gid != id || gsecret != secret {
			t.Fatalf("round trip of %q:%q gave %q:%q, %v, %v", id, secret, gid, gsecret, ok, err)
		}
	})
}
