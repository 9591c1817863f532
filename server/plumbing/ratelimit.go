package plumbing

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"idp/oauth"
)

// ClientLimits holds one token bucket per client for the token endpoint.
// Limits are per replica and in memory: they bound what one client can
// make one process do, which is what they are for; a shared counter would
// put a database write on the hottest path. Off unless configured.
type ClientLimits struct {
	mu     sync.Mutex
	rate   rate.Limit
	burst  int
	bucket map[string]*rate.Limiter
}

// NewClientLimits allows each client perSecond requests with a burst of
// twice that; 0 or less is no limit (a nil *ClientLimits allows all).
func NewClientLimits(perSecond float64) *ClientLimits {
	if perSecond <= 0 {
		return nil
	}
	return &ClientLimits{rate: rate.Limit(perSecond), burst: max(1, int(math.Ceil(2*perSecond))), bucket: map[string]*rate.Limiter{}}
}

// allow takes a token for the client or tells how long to wait.
func (l *ClientLimits) allow(clientID string) (ok bool, retryAfter int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	b, found := l.bucket[clientID]
	if !found {
		b = rate.NewLimiter(l.rate, l.burst)
		l.bucket[clientID] = b
	}
	l.mu.Unlock()
	r := b.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, int(math.Ceil(d.Seconds()))
	}
	return true, 0
}

// Limit answers 429 with Retry-After (RFC 6585 §4) when a client exceeds
// its limit.
func (l *ClientLimits) Limit(c echo.Context, clientID string) error {
	ok, wait := l.allow(clientID)
	if ok {
		return nil
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(wait, 1)))
	return &oauth.Error{Code: "temporarily_unavailable", Description: "too many token requests from this client; retry later",
		Status: http.StatusTooManyRequests}
}
