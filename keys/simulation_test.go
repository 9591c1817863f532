package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// A simulated clock drives months of scheduled rotation on two replicas
// sharing one database, with tokens issued throughout and relying services
// modelled as caches of the JWKS honouring its max-age.
//
// At every step the clock moves on (hours at a time, 30-90 s at a time and
// onto exact boundaries around each rotation), both replicas fetch the
// JWKS, Tick (in either order, or concurrently while tokens are signed), a
// random replica signs a token per alg (RS256 sampled, as RSA signing is
// slow), and both fetch the JWKS again.
// Every fetched JWKS is a snapshot a relying service may have cached; it
// keeps it for JWKSMaxAge. The invariants checked after every step:
//
//   - every unexpired token's kid is in every snapshot fetched within the
//     last JWKSMaxAge (the caches relying services may hold now), and its
//     signature verifies with that snapshot's key: a new key was published
//     at least JWKSMaxAge before it first signed, and a retired key stays
//     until its last token expired. Checked from a token's issue onwards, so
//     at its issue it covers every snapshot in [iat-JWKSMaxAge, iat];
//   - no key leaves a replica's JWKS while a token it signed is unexpired,
//     and a key that left never comes back;
//   - per alg, at least two and at most 2 + (keys retired within the last
//     TokenTTL+ClockSkew) keys are published, all of them known keys;
//   - replicas serving the same key set serve the same bytes (one ETag);
//   - the number of rotations of each alg is exactly the number of whole
//     intervals elapsed: one per interval, never early, never twice.

// simScenario is one simulated deployment.
type simScenario struct {
	name       string
	interval   time.Duration // RotationInterval
	span       time.Duration // simulated time
	coarseMin  time.Duration // step range away from rotations
	coarseMax  time.Duration
	concurrent int // every how many steps the replicas tick concurrently
	rsaEvery   int // every how many coarse steps an RS256 token is signed
	seed       uint64
}

func TestSimulationScheduledRotation(t *testing.T) {
	day := 24 * time.Hour
	// The default run keeps the package's test time low (~15 CPU-seconds
	// under -race): an RSA key takes ~0.2 s to generate and each rotation
	// makes one, and each step costs a dozen queries. So the year steps
	// 12-36 h at a time between rotations, and daily rotation runs for a
	// week. IDP_SIM_LONG=1 runs the long version (~2 CPU-minutes): 1-3 h
	// steps all year, and two months of daily rotations.
	long := os.Getenv("IDP_SIM_LONG") != ""
	year := simScenario{name: "30d-interval/365d", interval: 30 * day, span: 365 * day,
		coarseMin: 12 * time.Hour, coarseMax: 36 * time.Hour, concurrent: 3, rsaEvery: 4, seed: 1}
	daily := simScenario{name: "1d-interval/7.5d", interval: day, span: 7*day + 12*time.Hour,
		coarseMin: time.Hour, coarseMax: 3 * time.Hour, concurrent: 3, rsaEvery: 4, seed: 2}
	if long {
		year.coarseMin, year.coarseMax = time.Hour, 3*time.Hour
		daily.name, daily.span = "1d-interval/60.5d", 60*day+12*time.Hour
	}
	for _, sc := range []simScenario{year, daily} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			newSim(t, sc).run()
		})
	}
}

// simToken is a token a replica signed, as a relying service holds it.
type simToken struct {
	alg, kid string
	by       int // replica that signed it
	iat, exp time.Time
	jws      *jose.JSONWebSignature
	payload  string
	verified map[string]bool // ETags whose key verified the signature
}

// simSnapshot is one JWKS as served to a relying service at a time.
type simSnapshot struct {
	at   time.Time
	who  string
	etag string
}

// simSet is a parsed JWKS document, shared by snapshots with its ETag.
type simSet struct {
	keys   map[string]*jose.JSONWebKey // by kid
	perAlg map[string]int
}

type sim struct {
	t   *testing.T
	sc  simScenario
	e   *env
	ms  [2]*Manager
	rng *rand.Rand
	ctx context.Context

	ttl, skew, maxAge time.Duration
	start, end        time.Time

	// Fed by OnEvent (replicas may call it concurrently).
	mu         sync.Mutex
	rotations  map[string]int
	retiredAt  map[string]time.Time // kid -> when it stopped signing
	known      map[string]string    // kid -> alg, every key ever created
	rotatedAts map[string][]time.Time

	sets     map[string]*simSet // by ETag
	etagOf   map[string]string  // sorted kid list -> ETag
	window   []simSnapshot      // snapshots fetched within the last maxAge
	live     []*simToken        // unexpired tokens
	maxExp   map[string]time.Time
	presence [2]map[string]bool // per replica: kid -> still published (false: left)

	signedFrom, signedUntil map[string]time.Time // kid -> first and last iat

	// Figures for the log.
	steps, fineSteps, concurrentRotations, staleSignatures int
	tokens, snapshots, memberships, verifications          int
	maxLive, maxWindow                                     int
}

func newSim(t *testing.T, sc simScenario) *sim {
	e := newEnv(t)
	s := &sim{
		t: t, sc: sc, e: e, rng: rand.New(rand.NewPCG(sc.seed, 0x5eed)), ctx: context.Background(),
		rotations: map[string]int{}, retiredAt: map[string]time.Time{}, known: map[string]string{},
		rotatedAts: map[string][]time.Time{}, sets: map[string]*simSet{}, etagOf: map[string]string{},
		maxExp: map[string]time.Time{}, signedFrom: map[string]time.Time{}, signedUntil: map[string]time.Time{},
		presence: [2]map[string]bool{{}, {}},
	}
	e.opts.RotationInterval = sc.interval
	e.opts.TokenTTL = 10 * time.Minute
	e.opts.JWKSMaxAge = 5 * time.Minute
	e.opts.OnEvent = s.onEvent
	s.ms = [2]*Manager{e.manager(), e.manager()}
	o := s.ms[0].opts // with defaults applied
	s.ttl, s.skew, s.maxAge = o.TokenTTL, o.ClockSkew, o.JWKSMaxAge
	// A key's signed_until runs up to one chunk ahead of its last token's
	// expiry (one write per chunk, not per token), so a retired key may
	// stay published that much longer: counted here as part of the skew.
	s.skew += s.ms[0].chunk
	return s
}

// onEvent is the replicas' OnEvent: it counts rotations and records when
// each key was retired, on the simulated clock (which only moves between
// steps).
func (s *sim) onEvent(_ context.Context, action, kid, detail string) {
	f := map[string]string{}
	for _, kv := range strings.Fields(detail) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	now := s.e.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch action {
	case "key.created":
		s.known[kid] = f["alg"]
	case "key.rotated":
		s.rotations[f["alg"]]++
		s.rotatedAts[f["alg"]] = append(s.rotatedAts[f["alg"]], now)
		s.retiredAt[f["retired"]] = now
		s.known[f["next"]] = f["alg"]
	default:
		s.t.Errorf("unexpected key event %s %s %s", action, kid, detail)
	}
}

// rotationsDue is how many rotations per alg must have happened by now.
func (s *sim) rotationsDue(now time.Time) int { return int(now.Sub(s.start) / s.sc.interval) }

// fineOffsets are exact steps around each scheduled rotation time D: the
// last caches fetched before the new active key signs, the instant itself
// and the replica cache TTL after it, and the retired key's not_after.
func (s *sim) fineOffsets() []time.Duration {
	c, ns := MaxCacheTTL, s.ttl+s.skew
	return []time.Duration{
		-s.maxAge - c - time.Second, -s.maxAge - c, -s.maxAge, -s.maxAge + time.Second, -time.Minute, -c, -time.Second,
		0, time.Second, c - time.Second, c, c + time.Second, s.maxAge, s.ttl - time.Second, s.ttl,
		ns - c, ns - time.Second, ns, ns + time.Second,
	}
}

// nextStep picks the next clock time: coarse random steps far from a
// rotation, 30-90 s steps from JWKSMaxAge+1m before it until a minute
// after its retired key left the JWKS, and every exact offset.
func (s *sim) nextStep(now time.Time) (next time.Time, fine bool) {
	fineBefore, fineAfter := s.maxAge+time.Minute, s.ttl+s.skew+time.Minute
	k := s.rotationsDue(now.Add(-fineAfter)) + 1 // first rotation whose fine window is not over
	due := s.start.Add(time.Duration(k) * s.sc.interval)
	if fine = !now.Before(due.Add(-fineBefore)); fine {
		next = now.Add(time.Duration(30+s.rng.IntN(61)) * time.Second)
	} else {
		span := s.sc.coarseMax - s.sc.coarseMin
		next = now.Add(s.sc.coarseMin + time.Duration(s.rng.Int64N(int64(span/time.Second)+1))*time.Second)
		next = minTime(next, due.Add(-fineBefore))
	}
	for _, off := range s.fineOffsets() {
		if p := due.Add(off); p.After(now) && p.Before(next) {
			next = p
		}
	}
	return minTime(next, s.end), fine
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (s *sim) run() {
	t := s.t
	began := time.Now()
	// One replica starts first (concurrent bootstraps are
	// TestReplicasTickRace's business, and cost RSA keys thrown away).
	for i, m := range s.ms {
		if err := m.Bootstrap(s.ctx); err != nil {
			t.Fatalf("Bootstrap replica %d: %v", i, err)
		}
	}
	s.start = s.e.clock.Now()
	s.end = s.start.Add(s.sc.span)
	s.step("bootstrap", false, true)

	for now := s.start; now.Before(s.end); now = s.e.clock.Now() {
		next, fine := s.nextStep(now)
		s.e.clock.Advance(next.Sub(now))
		s.steps++
		if fine {
			s.fineSteps++
		}
		s.step(fmt.Sprintf("step %d", s.steps), s.steps%s.sc.concurrent == 0, fine)
		if t.Failed() {
			t.FailNow()
		}
	}
	s.finish()
	s.t.Logf("%v simulated in %v: %d steps (%d near rotations), %d rotations per alg (%d with both replicas ticking concurrently), "+
		"%d tokens signed (%d by a just-retired key from a replica's stale cache), %d JWKS snapshots (%d distinct), "+
		"%d token-in-cached-JWKS checks, %d signature verifications against cached JWKS, at most %d live tokens and %d cached snapshots at once",
		s.sc.span, time.Since(began).Round(time.Millisecond), s.steps, s.fineSteps, s.rotations[RS256], s.concurrentRotations,
		s.tokens, s.staleSignatures, s.snapshots, len(s.sets), s.memberships, s.verifications, s.maxLive, s.maxWindow)
}

// step runs one simulated moment on both replicas, then checks everything.
func (s *sim) step(name string, concurrent, fine bool) {
	t := s.t
	now := s.e.clock.Now()
	for i := range s.ms {
		s.fetch(i, name+" before tick")
	}
	s.mu.Lock()
	rotationsBefore := s.rotations[RS256]
	s.mu.Unlock()

	tick := func(i int) func() {
		return func() {
			if err := s.ms[i].Tick(s.ctx); err != nil {
				t.Errorf("%s: Tick on replica %d: %v", name, i, err)
			}
		}
	}
	var signed []*simToken
	var signMu sync.Mutex
	sign := func() {
		for _, alg := range Algs {
			// RSA signatures cost milliseconds: RS256 signs at every
			// other step near rotations and every rsaEvery-th elsewhere;
			// ES256 at every step.
			every := s.sc.rsaEvery
			if fine {
				every = 2
			}
			if alg == RS256 && s.steps%every != 0 {
				continue
			}
			i := s.randReplica()
			if tok := s.sign(i, alg, now); tok != nil {
				signMu.Lock()
				signed = append(signed, tok)
				signMu.Unlock()
			}
		}
	}
	if concurrent {
		// Both replicas tick while requests are signed: a replica may sign
		// with the key another replica is retiring at this very instant.
		var wg sync.WaitGroup
		wg.Go(tick(0))
		wg.Go(tick(1))
		wg.Go(sign)
		wg.Wait()
	} else {
		first := s.randReplica()
		signFirst := s.rng.IntN(2) == 0
		if signFirst {
			sign()
		}
		tick(first)()
		tick(1 - first)()
		if !signFirst {
			sign()
		}
	}

	s.mu.Lock()
	for _, alg := range Algs {
		if got, want := s.rotations[alg], s.rotationsDue(now); got != want {
			t.Errorf("%s at %v: %d %s rotations, want %d (one per %v)", name, now.Sub(s.start), got, alg, want, s.sc.interval)
		}
	}
	if concurrent && s.rotations[RS256] > rotationsBefore {
		s.concurrentRotations++
	}
	for _, tok := range signed {
		if at, ok := s.retiredAt[tok.kid]; ok && !tok.iat.Before(at) {
			s.staleSignatures++ // a replica whose cache predates the rotation
		}
	}
	s.mu.Unlock()

	for _, tok := range signed {
		s.live = append(s.live, tok)
		s.tokens++
		if tok.exp.After(s.maxExp[tok.kid]) {
			s.maxExp[tok.kid] = tok.exp
		}
		if _, ok := s.signedFrom[tok.kid]; !ok {
			s.signedFrom[tok.kid] = tok.iat
		}
		s.signedUntil[tok.kid] = tok.iat
	}
	for i := range s.ms {
		s.fetch(i, name+" after tick")
	}
	s.check(name, now)
}

func (s *sim) randReplica() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(2)
}

// sign has replica i sign a token for alg and checks it through the other
// replica's Verify.
func (s *sim) sign(i int, alg string, now time.Time) *simToken {
	t := s.t
	exp := now.Add(s.ttl)
	payload := fmt.Sprintf(`{"iat":%d,"exp":%d,"alg":%q,"by":%d}`, now.Unix(), exp.Unix(), alg, i)
	compact, err := s.ms[i].Sign(s.ctx, alg, []byte(payload), "at+jwt")
	if err != nil {
		t.Errorf("Sign %s on replica %d at %v: %v", alg, i, now.Sub(s.start), err)
		return nil
	}
	got, kid, err := s.ms[1-i].Verify(s.ctx, compact)
	if err != nil || string(got) != payload {
		t.Errorf("token of replica %d does not verify on replica %d at %v: %v", i, 1-i, now.Sub(s.start), err)
		return nil
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID != kid {
		t.Errorf("token header: %v", err)
		return nil
	}
	return &simToken{alg: alg, kid: kid, by: i, iat: now, exp: exp, jws: jws, payload: payload, verified: map[string]bool{}}
}

// fetch is a relying service fetching the JWKS from replica i now.
func (s *sim) fetch(i int, why string) {
	t := s.t
	j, err := s.ms[i].JWKS(s.ctx)
	if err != nil {
		t.Fatalf("JWKS of replica %d (%s): %v", i, why, err)
	}
	now := s.e.clock.Now()
	set, ok := s.sets[j.ETag]
	if !ok {
		var doc jose.JSONWebKeySet
		if err := json.Unmarshal(j.JSON, &doc); err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		set = &simSet{keys: map[string]*jose.JSONWebKey{}, perAlg: map[string]int{}}
		kids := make([]string, 0, len(doc.Keys))
		for k := range doc.Keys {
			key := &doc.Keys[k]
			set.keys[key.KeyID] = key
			set.perAlg[key.Algorithm]++
			kids = append(kids, key.KeyID)
		}
		slices.Sort(kids)
		id := strings.Join(kids, ",")
		if other, dup := s.etagOf[id]; dup {
			t.Fatalf("one key set served with two ETags %s and %s: replicas disagree on the bytes", other, j.ETag)
		}
		s.etagOf[id] = j.ETag
		s.sets[j.ETag] = set
	}
	s.snapshots++
	s.window = append(s.window, simSnapshot{at: now, who: fmt.Sprintf("replica %d %s", i, why), etag: j.ETag})

	// What this replica publishes: only known keys, at least active and
	// next per alg, retired keys only until TokenTTL+ClockSkew after their
	// retirement, and no key reappearing once it left.
	s.mu.Lock()
	defer s.mu.Unlock()
	recent := map[string]int{}
	for kid, at := range s.retiredAt {
		if now.Before(at.Add(s.ttl + s.skew)) {
			recent[s.known[kid]]++
		}
	}
	for _, alg := range Algs {
		if n := set.perAlg[alg]; n < 2 || n > 2+recent[alg] {
			t.Errorf("%v, replica %d %s: %d %s keys published, want 2..%d (next + active + %d retired within TokenTTL+ClockSkew)",
				now.Sub(s.start), i, why, n, alg, 2+recent[alg], recent[alg])
		}
	}
	for kid, key := range set.keys {
		alg, ok := s.known[kid]
		if !ok || alg != key.Algorithm {
			t.Errorf("replica %d publishes unknown key %s (%s)", i, kid, key.Algorithm)
		}
		if at, retired := s.retiredAt[kid]; retired && !now.Before(at.Add(s.ttl+s.skew)) {
			t.Errorf("%v: replica %d still publishes %s, retired at %v, past TokenTTL+ClockSkew", now.Sub(s.start), i, kid, at.Sub(s.start))
		}
		if still, seen := s.presence[i][kid]; seen && !still {
			t.Errorf("%v: key %s reappeared in the JWKS of replica %d", now.Sub(s.start), kid, i)
		}
		s.presence[i][kid] = true
	}
	for kid, still := range s.presence[i] {
		if still && set.keys[kid] == nil {
			s.presence[i][kid] = false
			if exp := s.maxExp[kid]; exp.After(now) {
				t.Errorf("%v: key %s left the JWKS of replica %d while a token it signed is valid until %v",
					now.Sub(s.start), kid, i, exp.Sub(s.start))
			}
		}
	}
}

// check asserts that every unexpired token verifies against every JWKS a
// relying service honouring max-age may hold now.
func (s *sim) check(name string, now time.Time) {
	t := s.t
	s.window = slices.DeleteFunc(s.window, func(sn simSnapshot) bool { return sn.at.Before(now.Add(-s.maxAge)) })
	s.live = slices.DeleteFunc(s.live, func(tok *simToken) bool { return !now.Before(tok.exp) })
	s.maxLive, s.maxWindow = max(s.maxLive, len(s.live)), max(s.maxWindow, len(s.window))
	for _, tok := range s.live {
		for _, sn := range s.window {
			s.memberships++
			set := s.sets[sn.etag]
			key := set.keys[tok.kid]
			if key == nil {
				t.Errorf("%s at %v: %s token by replica %d, issued %v (kid %s), is not verifiable with the JWKS %s fetched at %v "+
					"(cached until %v); that set has %v",
					name, now.Sub(s.start), tok.alg, tok.by, tok.iat.Sub(s.start), tok.kid, sn.who, sn.at.Sub(s.start),
					sn.at.Add(s.maxAge).Sub(s.start), slices.Sorted(mapKeys(set.keys)))
				continue
			}
			if tok.verified[sn.etag] {
				continue
			}
			s.verifications++
			got, err := tok.jws.Verify(key)
			if err != nil || string(got) != tok.payload {
				t.Errorf("%s: token %s fails to verify with the key of JWKS %s: %v", name, tok.kid, sn.etag, err)
			}
			tok.verified[sn.etag] = true
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// finish checks the whole history in the database: each alg rotated once
// per interval, exactly on schedule, and every key signed only while active.
func (s *sim) finish() {
	t := s.t
	want := s.rotationsDue(s.end)
	if want < 1 {
		t.Fatalf("scenario %s spans no rotation", s.sc.name)
	}
	ks := mustList(t, s.ms[0])
	for _, alg := range Algs {
		if s.rotations[alg] != want {
			t.Errorf("%s: %d rotations in %v, want %d", alg, s.rotations[alg], s.sc.span, want)
		}
		for k, at := range s.rotatedAts[alg] {
			if due := s.start.Add(time.Duration(k+1) * s.sc.interval); !at.Equal(due) {
				t.Errorf("%s rotation %d at %v, want %v", alg, k+1, at.Sub(s.start), due.Sub(s.start))
			}
		}
		c := countStates(ks, alg)
		if c[StateRetired] != want || c[StateActive] != 1 || c[StateNext] != 1 || c[StateRevoked] != 0 {
			t.Errorf("%s: final states %v, want %d retired, one active, one next", alg, c, want)
		}
	}
	// A key signs only from its activation, at least CacheTTL+JWKSMaxAge
	// after its publication (bootstrap keys excepted), until its
	// retirement, plus the CacheTTL a replica's stale cache may lag.
	byKID := map[string]Key{}
	for _, k := range ks {
		byKID[k.KID] = k
	}
	for kid, first := range s.signedFrom {
		k, last := byKID[kid], s.signedUntil[kid]
		switch {
		case k.ActivatedAt == nil || first.Before(*k.ActivatedAt):
			t.Errorf("key %s signed at %v, before its activation %v", kid, first.Sub(s.start), k.ActivatedAt)
		case !k.ActivatedAt.Equal(s.start) && k.ActivatedAt.Sub(k.CreatedAt) < MaxCacheTTL+s.maxAge:
			t.Errorf("key %s was activated %v after its publication", kid, k.ActivatedAt.Sub(k.CreatedAt))
		case k.RetiredAt != nil && !last.Before(k.RetiredAt.Add(MaxCacheTTL)):
			t.Errorf("key %s signed at %v, more than CacheTTL after its retirement at %v", kid, last.Sub(s.start), k.RetiredAt.Sub(s.start))
		}
	}
	if len(s.signedFrom) != 2*(want+1) {
		t.Errorf("%d keys signed tokens, want %d (every active key of each alg)", len(s.signedFrom), 2*(want+1))
	}
}
