package plumbing

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MailCounter is the outbox as /metrics sees it: how many messages are
// queued, sent and failed, over every replica (mail.Service has it).
type MailCounter interface {
	Counts(ctx context.Context) (queued, sent, failed int64, err error)
}

// ObserveMail adds idp_mail_messages{state} to the registry: the outbox
// counts read from the database at each scrape, so every replica reports
// the same totals whichever of them sent the mail.
func (m *Metrics) ObserveMail(c MailCounter) {
	m.reg.MustRegister(&mailCollector{c: c})
}

var mailDesc = prometheus.NewDesc("idp_mail_messages",
	"Outbound mail in the outbox by state: queued (waiting or retrying), sent, failed (gave up); finished rows are kept 7 days.",
	[]string{"state"}, nil)

// mailCollector reads the outbox counts.
type mailCollector struct{ c MailCounter }

// Describe sends the descriptor.
func (mc *mailCollector) Describe(ch chan<- *prometheus.Desc) { ch <- mailDesc }

// Collect reports the counts; a database error leaves the series out of
// this scrape rather than reporting zeros.
func (mc *mailCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q, s, f, err := mc.c.Counts(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(mailDesc, prometheus.GaugeValue, float64(q), "queued")
	ch <- prometheus.MustNewConstMetric(mailDesc, prometheus.GaugeValue, float64(s), "sent")
	ch <- prometheus.MustNewConstMetric(mailDesc, prometheus.GaugeValue, float64(f), "failed")
}
