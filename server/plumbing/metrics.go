package plumbing

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"idp/keys"
)

// Metrics are the Prometheus series of one server, on its own registry so
// tests can run many servers in one process.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	signins  *prometheus.CounterVec
	reuse    prometheus.Counter
	revoked  prometheus.Counter
	upstream *prometheus.CounterVec // see metrics_upstream.go
	cache    sync.Map               // seriesKey → *routeSeries
}

// NewMetrics registers the series, those of the signing keys of km and,
// when database offers them, its pool statistics.
func NewMetrics(km *keys.Manager, database Pinger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idp_http_request_duration_seconds", Help: "HTTP request duration by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_tokens_issued_total", Help: "Token responses issued by grant type and signing algorithm.",
		}, []string{"grant", "alg"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_signins_total", Help: "Sign-in attempts by outcome (success, failure, throttled).",
		}, []string{"outcome"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idp_refresh_reuse_detected_total", Help: "Refresh tokens presented again after the grace window.",
		}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idp_refresh_families_revoked_total", Help: "Refresh-token families revoked, for any reason.",
		}),
		upstream: newUpstreamFailures(),
	}
	m.reg.MustRegister(m.requests, m.duration, m.tokens, m.signins, m.reuse, m.revoked, m.upstream,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&keyCollector{keys: km})
	if p, ok := database.(interface{ SQLDB() *sql.DB }); ok {
		m.reg.MustRegister(collectors.NewDBStatsCollector(p.SQLDB(), "idp"))
	}
	if g, ok := database.(interface{ WriteGateWaits() int64 }); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "idp_db_write_gate_waits_total",
			Help: "SQLite writes that queued in-process behind another writer (0 on PostgreSQL).",
		}, func() float64 { return float64(g.WriteGateWaits()) }))
	}
	for _, o := range []string{"success", "failure", "throttled"} {
		m.signins.WithLabelValues(o) // present at 0 from the start
	}
	return m
}

// OnAudit turns audit actions into counters; audit.Log.Observe calls it.
func (m *Metrics) OnAudit(action string) {
	switch action {
	case "signin.success":
		m.signins.WithLabelValues("success").Inc()
	case "signin.failure":
		m.signins.WithLabelValues("failure").Inc()
	case "signin.throttled":
		m.signins.WithLabelValues("throttled").Inc()
	case "refresh.reuse_detected":
		m.reuse.Inc()
		m.revoked.Inc()
	case "family.revoked":
		m.revoked.Inc()
	}
}

// Observe is the middleware that counts and times every request by its
// route pattern (never the raw path, which would explode the series). The
// series of each route, method and status are looked up once and kept:
// resolving label values costs more than the increment itself.
func (m *Metrics) Observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.series(route, c.Request().Method, c.Response().Status).observe(time.Since(start))
		return nil
	}
}

// seriesKey names the request series of one route, method and status.
type seriesKey struct {
	route, method string
	status        int
}

// routeSeries are the resolved series of one seriesKey.
type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// observe counts and times one request.
func (r *routeSeries) observe(d time.Duration) {
	r.requests.Inc()
	r.duration.Observe(d.Seconds())
}

// series returns the cached series of route, method and status, resolving
// them on first use. Routes are the router's patterns and a method outside
// the standard set counts as "other", so neither the cache nor the
// exported series can be grown by a client inventing paths or methods.
func (m *Metrics) series(route, method string, status int) *routeSeries {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodHead, http.MethodOptions,
		http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		method = "other"
	}
	k := seriesKey{route, method, status}
	if v, ok := m.cache.Load(k); ok {
		return v.(*routeSeries)
	}
	v, _ := m.cache.LoadOrStore(k, &routeSeries{
		requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(route),
	})
	return v.(*routeSeries)
}

// TokenIssued counts one token response of a grant type, signed with alg.
func (m *Metrics) TokenIssued(grant, alg string) { m.tokens.WithLabelValues(grant, alg).Inc() }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() echo.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return echo.WrapHandler(h)
}

// keyCollector reports each algorithm's keys: how many are published per
// state and how old the active and next keys are. It reads keys.Stats,
// which is served from the key cache, so a scrape costs no query.
type keyCollector struct {
	keys *keys.Manager
}

var (
	keyCountDesc = prometheus.NewDesc("idp_signing_keys", "Signing keys by algorithm and state.", []string{"alg", "state"}, nil)
	keyAgeDesc   = prometheus.NewDesc("idp_signing_key_age_seconds",
		"Age of the active key (since activation) and of the next key (since publication).", []string{"alg", "state"}, nil)
)

// Describe sends the descriptors.
func (k *keyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyCountDesc; ch <- keyAgeDesc }

// Collect reports the cached key state.
func (k *keyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := k.keys.Stats(ctx)
	if err != nil {
		return
	}
	one := func(kid string) float64 {
		if kid == "" {
			return 0
		}
		return 1
	}
	for _, st := range stats {
		ch <- prometheus.MustNewConstMetric(keyCountDesc, prometheus.GaugeValue, one(st.ActiveKID), st.Alg, keys.StateActive)
		ch <- prometheus.MustNewConstMetric(keyCountDesc, prometheus.GaugeValue, one(st.NextKID), st.Alg, keys.StateNext)
		ch <- prometheus.MustNewConstMetric(keyCountDesc, prometheus.GaugeValue, float64(st.Retired), st.Alg, keys.StateRetired)
		if st.ActiveKID != "" {
			ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, st.ActiveAge.Seconds(), st.Alg, keys.StateActive)
		}
		if st.NextKID != "" {
			ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, st.NextAge.Seconds(), st.Alg, keys.StateNext)
		}
	}
}
