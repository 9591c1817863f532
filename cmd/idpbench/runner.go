package main

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// runScenario runs sc against t with n workers: setup (signing in, at most
// SetupConc at once), then warm-up, then the measured window. Successful
// operations count towards throughput by the share of their time inside
// the window (see overlap), so operations far longer than the window (64
// sign-ins sharing two cores) are still measured fairly; every failure,
// warm-up included, is reported.
func (t *target) runScenario(ctx context.Context, sc scenario, n int) Result {
	seed := uint64(time.Now().UnixNano())
	workers := make([]*worker, n)
	for i := range workers {
		workers[i] = &worker{t: t, rec: newRecorder(), api: t.client(nil), browser: t.browser(),
			cc: t.cfg.ccClients()[0], rnd: mrand.New(mrand.NewPCG(seed, uint64(i)))}
		if sc.cc != nil {
			workers[i].cc = *sc.cc
		}
	}
	ready := make([]bool, n)
	sem := make(chan struct{}, t.cfg.SetupConc)
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if sc.setup == nil {
				ready[i] = true
			} else if err := sc.setup(w); err != nil {
				w.rec.failSetup(err)
			} else {
				ready[i] = true
			}
		})
	}
	wg.Wait()

	from := time.Now().Add(t.cfg.Warmup)
	end := from.Add(t.cfg.Duration)
	usage := t.watch(ctx, from, end)
	for i, w := range workers {
		if ready[i] {
			wg.Go(func() { w.loop(ctx, sc.op, from, end) })
		}
	}
	wg.Wait()

	recs := make([]*recorder, n)
	for i, w := range workers {
		recs[i] = w.rec
	}
	res := merge(sc.name, recs, t.cfg.Duration)
	res.Usage = usage(res.OpsPerSec)
	if sc.cc != nil {
		res.Name = sc.name + "/" + sc.cc.ID
	}
	// The signing algorithm is what these two measure most.
	if sc.cc != nil || sc.name == "refresh" {
		for _, w := range workers {
			if w.alg != "" {
				res.Alg = w.alg
				break
			}
		}
	}
	if sc.chains && ctx.Err() == nil {
		res.Reuse = checkChains(workers, t.cfg)
		for _, n := range res.Reuse.Failures {
			res.Errors += n
		}
	}
	return res
}

// loop starts op again and again until end. An operation in flight at end
// is finished, never cut off: a refresh chain must not lose track of its
// newest token, and the operation's share of the window counts.
func (w *worker) loop(ctx context.Context, op func(*worker) error, from, end time.Time) {
	for ctx.Err() == nil {
		begin := time.Now()
		if !begin.Before(end) {
			break
		}
		w.nreq = 0
		err := op(w)
		done := time.Now()
		if err != nil {
			w.rec.fail(err)
			continue
		}
		w.rec.record(begin, done, from, end, w.nreq)
	}
}

// failSetup records a worker that could not get ready (sign-in failed).
func (r *recorder) failSetup(err error) {
	f := &failure{Kind: "other", Detail: err.Error()}
	errors.As(err, &f)
	g := *f
	g.Kind = "setup_" + f.Kind
	r.fail(&g)
	r.setupErrs++
}
