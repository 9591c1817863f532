package server_test

// Helpers of the Apache mod_auth_openidc interop test (apache_test.go): an
// Apache httpd started as a child process with a configuration of its own
// in t.TempDir(), in front of an in-test upstream.

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"
)

const (
	apacheBin       = "/usr/sbin/apache2"
	apacheModules   = "/usr/lib/apache2/modules"
	apacheOIDCModSO = "mod_auth_openidc.so"
)

// needApache skips the test when Apache or mod_auth_openidc is missing,
// except under CI, which installs both (.ci/run) and so must run it.
func needApache(t *testing.T) {
	t.Helper()
	_, binErr := os.Stat(apacheBin)
	_, modErr := os.Stat(filepath.Join(apacheModules, apacheOIDCModSO))
	if binErr == nil && modErr == nil {
		return
	}
	msg := "Apache interop skipped: needs " + apacheBin + " and " + apacheOIDCModSO +
		" (apt-get install apache2 libapache2-mod-auth-openidc)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// apacheConf is what the configuration template fills in. Introspection
// results are never cached (OIDCOAuthTokenIntrospectionInterval -1), so a
// revocation at idp is seen on the very next request. The cache is a
// file cache, not shm: shm keys are at most 512 bytes and idp's JWT access
// tokens are longer, so with shm nothing is ever cached and the test could
// not tell whether the directive above does its job.
type apacheConf struct {
	// CA is the certificate of the TLS server at Introspect:
	// mod_auth_openidc insists on https, and verifies it against this.
	CA                       *x509.Certificate
	CAFile                   string
	Dir, Modules, Port, User string
	Passphrase               string
	// ModLogLevel is mod_auth_openidc's: info, or debug when
	// IDP_APACHE_DEBUG is set (debug logs tokens and the client secret).
	ModLogLevel            string
	Introspect, ID, Secret string
	AuthMethod             string // client_secret_post or client_secret_basic
	Upstream               string
}

var apacheConfTmpl = template.Must(template.New("httpd.conf").Parse(`
ServerRoot "{{.Dir}}"
ServerName 127.0.0.1
Listen 127.0.0.1:{{.Port}}
PidFile "{{.Dir}}/httpd.pid"
DefaultRuntimeDir "{{.Dir}}"
ErrorLog "{{.Dir}}/error.log"
LogLevel warn auth_openidc:{{.ModLogLevel}}
LoadModule mpm_event_module {{.Modules}}/mod_mpm_event.so
LoadModule authn_core_module {{.Modules}}/mod_authn_core.so
LoadModule authz_core_module {{.Modules}}/mod_authz_core.so
LoadModule authz_user_module {{.Modules}}/mod_authz_user.so
LoadModule headers_module {{.Modules}}/mod_headers.so
LoadModule proxy_module {{.Modules}}/mod_proxy.so
LoadModule proxy_http_module {{.Modules}}/mod_proxy_http.so
LoadModule auth_openidc_module {{.Modules}}/mod_auth_openidc.so
{{if .User}}User {{.User}}
Group {{.User}}
{{end}}StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
Timeout 10

OIDCCryptoPassphrase {{.Passphrase}}
OIDCCacheType file
OIDCCacheDir "{{.Dir}}/cache"
OIDCOAuthIntrospectionEndpoint {{.Introspect}}
OIDCOAuthIntrospectionEndpointAuth {{.AuthMethod}}
OIDCOAuthClientID "{{.ID}}"
OIDCOAuthClientSecret "{{.Secret}}"
OIDCOAuthRemoteUserClaim sub
OIDCOAuthTokenIntrospectionInterval -1
OIDCCABundlePath "{{.CAFile}}"
OIDCOAuthSSLValidateServer On

<Location "/api/">
    AuthType oauth20
    Require valid-user
    RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
    ProxyPass "{{.Upstream}}/"
</Location>
`))

// apache is a running httpd.
type apache struct {
	URL string
	dir string
}

// errorLog returns Apache's error log.
func (a *apache) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
	return string(b)
}

// startApache writes conf (Dir, Modules, Port, User and Passphrase are
// filled in here) and starts httpd in the foreground with a clean
// environment. It returns once httpd answers HTTP, and stops it when t
// ends; on failure the error log goes to the test log. A port taken
// between choosing and binding it is retried.
func startApache(t *testing.T, conf apacheConf) *apache {
	t.Helper()
	var last error
	for range 3 {
		a, err := tryApache(t, conf)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("apache error log:\n%s", a.errorLog())
				}
			})
			return a
		}
		last = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("apache: %v", last)
	return nil
}

func tryApache(t *testing.T, conf apacheConf) (*apache, error) {
	dir := apacheDir(t)
	conf.Dir, conf.Modules, conf.Port, conf.User, conf.Passphrase = dir, apacheModules, freePort(t), apacheUser(), randomHex(t)
	cmd := exec.Command(apacheBin, "-f", writeApacheFiles(t, conf), "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// exited is closed when httpd has gone; waitErr says how.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	a := &apache{URL: "http://127.0.0.1:" + conf.Port, dir: dir}
	stop := func() {
		// SIGTERM stops httpd and its children; the group kill is for a
		// httpd that hangs.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	if err := waitApache(a.URL, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w (%v)\n%s\n%s", err, waitErr, out.String(), a.errorLog())
	}
	t.Cleanup(stop)
	return a, nil
}

// writeApacheFiles writes the CA certificate, the cache directory
// (writable by httpd's children) and the configuration into conf.Dir, and
// returns the configuration's path.
func writeApacheFiles(t *testing.T, conf apacheConf) string {
	t.Helper()
	conf.ModLogLevel = "info"
	if os.Getenv("IDP_APACHE_DEBUG") != "" {
		conf.ModLogLevel = "debug"
	}
	conf.CAFile = filepath.Join(conf.Dir, "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: conf.CA.Raw})
	if err := os.WriteFile(conf.CAFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(conf.Dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if u, err := osuser.Lookup(conf.User); conf.User != "" && err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(cache, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	var cfg bytes.Buffer
	if err := apacheConfTmpl.Execute(&cfg, conf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(conf.Dir, "httpd.conf")
	if err := os.WriteFile(path, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitApache polls url until httpd answers, httpd exits, or 10 s pass.
func waitApache(url string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("httpd exited")
		default:
		}
		if resp, err := c.Get(url + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("httpd did not answer within 10s")
}

// apacheDir is a temp directory httpd's children may read even when they
// run as an unprivileged user.
func apacheDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "idp-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// apacheUser is the user httpd's children switch to when the test runs as
// root (httpd refuses to serve as root); "" otherwise, as they cannot.
func apacheUser() string {
	if os.Geteuid() != 0 {
		return ""
	}
	for _, name := range []string{"www-data", "nobody"} {
		if _, err := osuser.Lookup(name); err == nil {
			return name
		}
	}
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tlsFront is an https reverse proxy to an http server, counting the
// requests it forwards.
type tlsFront struct {
	*httptest.Server
	n atomic.Int64
}

// newTLSFront starts a tlsFront to target, closed when t ends.
func newTLSFront(t *testing.T, target string) *tlsFront {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFront{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.n.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests is how many requests the front has forwarded.
func (f *tlsFront) requests() int64 { return f.n.Load() }
