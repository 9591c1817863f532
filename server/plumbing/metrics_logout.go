package plumbing

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LogoutCounter is the back-channel logout queue as /metrics sees it:
// how many logouts are queued, delivered and failed, over every replica
// (logout.Service has it).
type LogoutCounter interface {
	Counts(ctx context.Context) (queued, delivered, failed int64, err error)
}

// ObserveLogout adds idp_backchannel_logouts{state} to the registry, read
// from the database at each scrape like idp_mail_messages.
func (m *Metrics) ObserveLogout(c LogoutCounter) {
	m.reg.MustRegister(&logoutCollector{c: c})
}

var logoutDesc = prometheus.NewDesc("idp_backchannel_logouts",
	"Back-channel logout deliveries by state: queued (waiting or retrying), delivered, failed (gave up); finished rows are kept 7 days.",
	[]string{"state"}, nil)

// logoutCollector reads the queue counts.
type logoutCollector struct{ c LogoutCounter }

// Describe sends the descriptor.
func (lc *logoutCollector) Describe(ch chan<- *prometheus.Desc) { ch <- logoutDesc }

// Collect reports the counts; a database error leaves the series out of
// this scrape rather than reporting zeros.
func (lc *logoutCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q, d, f, err := lc.c.Counts(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(logoutDesc, prometheus.GaugeValue, float64(q), "queued")
	ch <- prometheus.MustNewConstMetric(logoutDesc, prometheus.GaugeValue, float64(d), "delivered")
	ch <- prometheus.MustNewConstMetric(logoutDesc, prometheus.GaugeValue, float64(f), "failed")
}
