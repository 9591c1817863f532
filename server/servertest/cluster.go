package servertest

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/app"
	"idp/db"
	"idp/db/dbtest"
	"idp/keys"
	"idp/server"
)

// InstanceHeader is the response header in which a cluster instance names
// its index. Sent on a request to the cluster's proxy, it pins the request
// to that instance instead of the next in turn.
const InstanceHeader = "Servertest-Instance"

// Cluster is several complete providers (replicas) on one database behind a
// round-robin reverse proxy, whose URL is the issuer of all of them: the
// scale-out deployment, in-process. The replicas share the database, the
// master key and one clock, and nothing else: each has its own connection
// pool, key manager (and key cache), services and server.
type Cluster struct {
	// URL is the issuer: the proxy's URL.
	URL string
	// Proxy is the round-robin reverse proxy (net/http/httputil).
	Proxy *httptest.Server
	// DSN is the database every instance opened.
	DSN string
	// Clock is the one clock of every instance.
	Clock *Clock
	// Master is the master key every instance was given.
	Master keys.MasterKey
	// Instances are the replicas. Each Env's URL is the issuer (so its
	// helpers go through the proxy), its HTTP is that instance's own
	// backend server, and its DB is that instance's own pool.
	Instances []*Env

	hits []atomic.Int64
	turn atomic.Uint64
}

// NewCluster starts n providers on one fresh dbtest database (SQLite file,
// or a PostgreSQL schema when IDP_TEST_POSTGRES is set) behind a
// round-robin proxy. The replicas start together as a scaled-out deployment
// does: each opens its own pool, migrates and bootstraps the signing keys
// at the same time as the others. Everything is closed when t ends.
func NewCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	return newCluster(t, n, app.MailConfig{}, opts)
}

// newCluster is NewCluster with the replicas' outbound mail.
func newCluster(t testing.TB, n int, mail app.MailConfig, opts []Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("servertest: a cluster needs at least one instance, not %d", n)
	}
	c := &Cluster{DSN: dbtest.DSN(t), Clock: newClock(), Master: newMasterKey(), hits: make([]atomic.Int64, n)}
	// The proxy starts first so that its URL can be every instance's issuer.
	front := newLateServer(t)
	c.URL, c.Proxy = front.URL, front.Server

	c.Instances = make([]*Env, n)
	dbs := make([]*db.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], c.Instances[i], errs[i] = c.start(config(c.URL, c.Clock, c.Master, opts), mail)
		}()
	}
	wg.Wait()
	for i := range n {
		if d := dbs[i]; d != nil {
			t.Cleanup(func() { _ = d.Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("servertest: instance %d: %v", i, err)
		}
	}

	targets := make([]*url.URL, n)
	for i, e := range c.Instances {
		backend := httptest.NewServer(c.count(i, e.Server))
		t.Cleanup(backend.Close)
		e.URL, e.HTTP = c.URL, backend
		targets[i], _ = url.Parse(backend.URL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	front.set(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[c.pick(pr.In)])
			pr.Out.Host = pr.In.Host // as load balancers do: the issuer's host
			pr.Out.Header.Del(InstanceHeader)
			// Append to what the client sent, as nginx's
			// $proxy_add_x_forwarded_for does.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
		},
		Transport: tr,
		ErrorLog:  log.New(io.Discard, "", 0),
	})
	return c
}

// start opens, migrates and wires one instance.
func (c *Cluster) start(cfg server.Config, mail app.MailConfig) (*db.DB, *Env, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, c.DSN, db.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		return d, nil, err
	}
	e, err := build(d, cfg, c.Clock, c.Master, mail)
	return d, e, err
}

// count wraps instance i's handler: it counts the request and names the
// instance in the response.
func (c *Cluster) count(i int, h http.Handler) http.Handler {
	name := strconv.Itoa(i)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits[i].Add(1)
		w.Header().Set(InstanceHeader, name)
		h.ServeHTTP(w, r)
	})
}

// pick returns the instance a request goes to: the pinned one, or the next
// in turn.
func (c *Cluster) pick(r *http.Request) int {
	if v := r.Header.Get(InstanceHeader); v != "" {
		if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < len(c.Instances) {
			return i
		}
	}
	return int((c.turn.Add(1) - 1) % uint64(len(c.Instances)))
}

// Hits returns how many requests each instance has served.
func (c *Cluster) Hits() []int64 {
	out := make([]int64, len(c.hits))
	for i := range c.hits {
		out[i] = c.hits[i].Load()
	}
	return out
}

// Instance returns the index of the instance that answered resp, or -1 if
// it did not come from one.
func Instance(resp *http.Response) int {
	i, err := strconv.Atoi(resp.Header.Get(InstanceHeader))
	if err != nil {
		return -1
	}
	return i
}

// Pinned returns an HTTP client whose requests through the proxy all go
// to instance i (it sends InstanceHeader). It follows redirects.
func (c *Cluster) Pinned(i int) *http.Client {
	if i < 0 || i >= len(c.Instances) {
		panic(fmt.Sprintf("servertest: no instance %d in a cluster of %d", i, len(c.Instances)))
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: pin{i: strconv.Itoa(i), next: http.DefaultTransport}}
}

// pin is a RoundTripper that pins requests to one instance.
type pin struct {
	i    string
	next http.RoundTripper
}

// RoundTrip sends r with InstanceHeader set.
func (p pin) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(InstanceHeader, p.i)
	return p.next.RoundTrip(r)
}
