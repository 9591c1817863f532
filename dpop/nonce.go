package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// DefaultNoncePeriod is how long one server nonce is current; a nonce of
// the previous period is still accepted, so a nonce lives one to two
// periods.
const DefaultNoncePeriod = 5 * time.Minute

// Nonces makes and checks server-provided DPoP nonces (RFC 9449 §8, §9)
// without storing them: a nonce is the period's number and an HMAC of it
// under a key every replica shares, so one replica accepts what another
// handed out, and nothing needs cleaning up.
type Nonces struct {
	key    []byte
	period time.Duration
}

// NewNonces returns nonces keyed by key (at least 32 bytes, e.g. derived
// from idp's master key) that change every period (0 means
// DefaultNoncePeriod).
func NewNonces(key []byte, period time.Duration) *Nonces {
	if period <= 0 {
		period = DefaultNoncePeriod
	}
	return &Nonces{key: append([]byte(nil), key...), period: period}
}

// Current returns the nonce to hand out at now.
func (n *Nonces) Current(now time.Time) string { return n.make(n.slot(now)) }

// Valid reports whether nonce is the current or the previous period's.
func (n *Nonces) Valid(nonce string, now time.Time) bool {
	slot := n.slot(now)
	for _, s := range []int64{slot, slot - 1} {
		if hmac.Equal([]byte(nonce), []byte(n.make(s))) {
			return true
		}
	}
	return false
}

func (n *Nonces) slot(now time.Time) int64 { return now.UnixNano() / int64(n.period) }

// make is base64url(slot || HMAC-SHA256(key, "dpop-nonce" || slot)[:16]).
func (n *Nonces) make(slot int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot))
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("dpop-nonce"))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}
