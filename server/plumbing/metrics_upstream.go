package plumbing

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// UpstreamFailureReasons are the values of the reason label of
// idp_upstream_failures_total: the audit log's words for a failed
// sign-in through an upstream (pages.reason), and the two outcomes of a
// refresh the upstream check stopped: refresh_refused (the upstream said
// no; the family was revoked) and refresh_unavailable (it could not be
// asked; nothing was revoked). Any other word counts as "error", so the
// label cannot grow.
var UpstreamFailureReasons = []string{"unavailable", "denied", "forged", "not_allowed", "no_account",
	"link_refused", "disabled", "error", "refresh_refused", "refresh_unavailable"}

func newUpstreamFailures() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idp_upstream_failures_total",
		Help: "Sign-ins through an upstream provider that did not sign anybody in, and refreshes its check stopped, " +
			"by upstream id and reason (unavailable, denied, forged, not_allowed, no_account, link_refused, disabled, error, " +
			"refresh_refused, refresh_unavailable).",
	}, []string{"upstream", "reason"})
}

// UpstreamFailed counts one failed sign-in through upstream id. The
// caller passes only the id of an upstream that is configured: an id
// taken from a URL that names no upstream must not become a label value,
// or anybody could grow the series without bound.
func (m *Metrics) UpstreamFailed(id, reason string) {
	if !slices.Contains(UpstreamFailureReasons, reason) {
		reason = "error"
	}
	m.upstream.WithLabelValues(id, reason).Inc()
}
