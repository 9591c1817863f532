package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// failure is one failed operation, classified for the report.
type failure struct {
	Kind   string // "status_NNN", "transport", "timeout", "protocol", "verify"; "setup_" before one in setup
	Status int
	Locked bool // the body said "database is locked"
	Detail string
}

func (f *failure) Error() string {
	if f.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %s", f.Kind, f.Status, f.Detail)
	}
	return f.Kind + ": " + f.Detail
}

// statusFailure classifies an unexpected HTTP answer.
func statusFailure(status int, body []byte) *failure {
	detail := string(body)
	if len(detail) > 300 {
		detail = detail[:300]
	}
	return &failure{Kind: fmt.Sprintf("status_%d", status), Status: status,
		Locked: strings.Contains(strings.ToLower(string(body)), "database is locked"), Detail: detail}
}

func protocolFailure(format string, args ...any) *failure {
	return &failure{Kind: "protocol", Detail: fmt.Sprintf(format, args...)}
}

// transportFailure classifies a request that got no answer.
func transportFailure(err error) *failure {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &failure{Kind: "timeout", Detail: err.Error()}
	}
	return &failure{Kind: "transport", Detail: err.Error()}
}

// recorder collects one worker's measurements; workers never share one,
// so recording takes no lock.
type recorder struct {
	lat       []time.Duration // of the operations that overlap the window
	ops       int64           // successful operations that overlap the window
	work      float64         // their summed shares of the window (see overlap)
	reqWork   float64         // the same, weighted by their HTTP requests
	errs      map[string]int
	fiveXX    int
	locked    int
	examples  map[string]string
	verified  int64
	setupErrs int
	opCounts  map[string]int64 // mix: operations chosen
}

func newRecorder() *recorder {
	return &recorder{errs: map[string]int{}, examples: map[string]string{}, opCounts: map[string]int64{},
		lat: make([]time.Duration, 0, 4096)}
}

// fail records a failed operation.
func (r *recorder) fail(err error) {
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{Kind: "other", Detail: err.Error()}
	}
	r.errs[f.Kind]++
	if f.Status >= 500 {
		r.fiveXX++
	}
	if f.Locked {
		r.locked++
	}
	if _, seen := r.examples[f.Kind]; !seen {
		r.examples[f.Kind] = f.Error()
	}
}

// record counts a successful operation that ran from begin to done by its
// share of the measured window [from, end].
func (r *recorder) record(begin, done, from, end time.Time, nreq int64) {
	share := overlap(begin, done, from, end)
	if share == 0 {
		return
	}
	r.ops++
	r.work += share
	r.reqWork += share * float64(nreq)
	r.lat = append(r.lat, done.Sub(begin))
}

// overlap is the share of [begin, done] that lies inside [from, end). In a
// closed loop, throughput over a window is the sum of these shares divided
// by the window: an operation that straddles a boundary counts by the part
// inside, so operations longer than the window (or all in step, as
// CPU-bound sign-ins sharing the cores finish together) are neither lost
// nor counted twice.
func overlap(begin, done, from, end time.Time) float64 {
	if !done.After(begin) {
		if !begin.Before(from) && begin.Before(end) {
			return 1
		}
		return 0
	}
	lo, hi := begin, done
	if lo.Before(from) {
		lo = from
	}
	if hi.After(end) {
		hi = end
	}
	if !hi.After(lo) {
		return 0
	}
	return float64(hi.Sub(lo)) / float64(done.Sub(begin))
}

// Result is one scenario's (or one reference's) figures.
type Result struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"` // "idp" or "reference"
	Workers     int               `json:"concurrency"`
	Seconds     float64           `json:"seconds"`
	Ops         int64             `json:"ops"`
	OpsPerSec   float64           `json:"ops_per_sec"`
	ReqPerSec   float64           `json:"requests_per_sec"`
	P50ms       float64           `json:"p50_ms"`
	P99ms       float64           `json:"p99_ms"`
	Maxms       float64           `json:"max_ms"`
	Errors      int               `json:"errors"`
	ErrorKinds  map[string]int    `json:"error_kinds,omitempty"`
	FiveXX      int               `json:"status_5xx"`
	Locked      int               `json:"database_locked"`
	Examples    map[string]string `json:"error_examples,omitempty"`
	SetupErrors int               `json:"setup_errors"`
	Verified    int64             `json:"verified"`
	Alg         string            `json:"alg,omitempty"`
	Load1       [2]float64        `json:"loadavg_1m_before_after"`
	Usage       *Usage            `json:"usage,omitempty"`
	OpCounts    map[string]int64  `json:"mix_ops,omitempty"`
	Reuse       *ReuseCheck       `json:"reuse_check,omitempty"`
}

// merge folds the workers' recorders into a Result over the window.
func merge(name string, recs []*recorder, window time.Duration) Result {
	res := Result{Name: name, Kind: "idp", Workers: len(recs), Seconds: window.Seconds(),
		ErrorKinds: map[string]int{}, Examples: map[string]string{}, OpCounts: map[string]int64{}}
	var lat []time.Duration
	var work, reqWork float64
	for _, r := range recs {
		lat = append(lat, r.lat...)
		res.Ops += r.ops
		work += r.work
		reqWork += r.reqWork
		res.FiveXX += r.fiveXX
		res.Locked += r.locked
		res.Verified += r.verified
		res.SetupErrors += r.setupErrs
		for k, n := range r.opCounts {
			res.OpCounts[k] += n
		}
		for k, n := range r.errs {
			res.ErrorKinds[k] += n
			res.Errors += n
		}
		for k, v := range r.examples {
			if _, ok := res.Examples[k]; !ok {
				res.Examples[k] = v
			}
		}
	}
	if window > 0 {
		res.OpsPerSec = work / window.Seconds()
		res.ReqPerSec = reqWork / window.Seconds()
	}
	slices.Sort(lat)
	res.P50ms = ms(percentile(lat, 50))
	res.P99ms = ms(percentile(lat, 99))
	res.Maxms = ms(percentile(lat, 100))
	return res
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest value with at least p% of the values at or below
// it. Zero for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadAvg returns the 1-minute load average (Linux), or 0: on a shared
// machine it tells whether a run competed with other work.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscan(string(b), &l)
	return l
}
