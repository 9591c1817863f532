package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
)

// Ratio compares one idp figure with a reference (or a fixed rate).
type Ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"` // of the measured operations per second
	Target float64 `json:"target"`
	Pass   bool    `json:"pass"`
	// CPU is the same ratio from CPU time per operation (server + client)
	// instead of wall-clock rates: what the ratio would be if both sides
	// were CPU-bound and had the machine's cores to themselves. Steadier
	// than Value on a loaded machine; blind to waits (fsync, locks). Zero
	// when CPU time was not measured.
	CPU float64 `json:"cpu_normalized,omitempty"`
	// Extra marks a comparison the issue did not set a target for.
	Extra bool `json:"extra,omitempty"`
}

// Report is everything one invocation measured.
type Report struct {
	Results []Result `json:"results"`
	Ratios  []Ratio  `json:"ratios"`
}

// OK reports whether no idp run saw an error (setup and reuse check
// included). Missed performance targets do not make a report fail.
func (r *Report) OK() bool {
	for _, res := range r.Results {
		if res.Errors > 0 || res.SetupErrors > 0 || !res.Reuse.OK() {
			return false
		}
	}
	return true
}

// Run measures every configured scenario against the idp at cfg.Issuer,
// then the references if asked, and writes the report to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	t, err := connect(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer t.tr.CloseIdleConnections()
	t.setMix(cfg.Mix)
	rep := &Report{}
	emit := func(res Result) {
		res.Load1[1] = loadAvg()
		rep.Results = append(rep.Results, res)
		if cfg.JSON {
			writeJSON(cfg.Out, "result", res)
		} else {
			fmt.Fprintf(cfg.Out, "# %-34s %10.1f ops/s  p99 %8.2f ms  errors %d\n", res.Name, res.OpsPerSec, res.P99ms, res.Errors)
		}
	}
	for _, sc := range scenarios(&cfg) {
		if ctx.Err() != nil {
			break
		}
		before := loadAvg()
		res := t.runScenario(ctx, sc, cfg.Concurrency)
		res.Load1[0] = before
		emit(res)
	}
	if cfg.Reference && ctx.Err() == nil {
		if err := references(ctx, t, emit); err != nil && ctx.Err() == nil {
			return nil, err
		}
		if cfg.BareURL != "" {
			processReferences(ctx, t, cfg.BareURL, emit)
		}
	}
	rep.Ratios = ratios(rep.Results)
	if cfg.JSON {
		for _, r := range rep.Ratios {
			writeJSON(cfg.Out, "ratio", r)
		}
		writeJSON(cfg.Out, "summary", map[string]any{"ok": rep.OK(), "issuer": cfg.Issuer,
			"concurrency": cfg.Concurrency, "duration_s": cfg.Duration.Seconds(), "gomaxprocs": procs()})
	} else {
		rep.writeText(cfg.Out)
	}
	return rep, ctx.Err()
}

func writeJSON(w io.Writer, typ string, v any) {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["type"] = typ
	b, _ = json.Marshal(m)
	fmt.Fprintf(w, "%s\n", b)
}

// writeText prints the results table, the errors and the ratios.
func (r *Report) writeText(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tkind\talg\tops/s\treq/s\tp50 ms\tp99 ms\tmax ms\terrors\t5xx\tlocked\tverified\t"+
		"srv cores\tcli cores\tcpu ms/op\tpool waits/op\tload 1m\t")
	for _, res := range r.Results {
		u := res.Usage
		if u == nil {
			u = &Usage{}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%s\t%.2f\t%.3f\t%s\t%.1f→%.1f\t\n",
			res.Name, res.Kind, res.Alg, res.OpsPerSec, res.ReqPerSec, res.P50ms, res.P99ms, res.Maxms,
			res.Errors, res.FiveXX, res.Locked, res.Verified,
			ifServer(u, "%.2f", u.ServerCores), u.ClientCores, u.CPUPerOp, ifServer(u, "%.2f", u.DBWaitsPerOp),
			res.Load1[0], res.Load1[1])
	}
	tw.Flush()
	for _, res := range r.Results {
		if len(res.OpCounts) > 0 {
			fmt.Fprintf(out, "%s: operations %s\n", res.Name, kv(res.OpCounts))
		}
		for _, k := range sortedKeys(res.ErrorKinds) {
			fmt.Fprintf(out, "%s: %d × %s, e.g. %s\n", res.Name, res.ErrorKinds[k], k, res.Examples[k])
		}
		if rc := res.Reuse; rc != nil {
			fmt.Fprintf(out, "%s: reuse check: %d chains, %d intact, %d replayed in grace, %d skipped",
				res.Name, rc.Chains, rc.Intact, rc.ReplayedInGrace, rc.Skipped)
			if !rc.OK() {
				fmt.Fprintf(out, ", FAILURES %v (e.g. %s)", rc.Failures, rc.Example)
			}
			fmt.Fprintln(out)
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ratio\tmeasured\ttarget\t\tCPU-normalized\t")
		for _, q := range r.Ratios {
			verdict := "PASS"
			if !q.Pass {
				verdict = "MISS"
			}
			if q.Extra {
				verdict = strings.ToLower(verdict) + " (extra)"
			}
			cpu := "-"
			if q.CPU > 0 {
				cpu = fmt.Sprintf("%.3f", q.CPU)
			}
			fmt.Fprintf(tw, "%s\t%.3f\t≥ %.2f\t%s\t%s\t\n", q.Name, q.Value, q.Target, verdict, cpu)
		}
		tw.Flush()
	}
	if r.OK() {
		fmt.Fprintln(out, "no errors")
	} else {
		fmt.Fprintln(out, "ERRORS: see above")
	}
}

// ratios computes the comparisons whose inputs were measured.
func ratios(results []Result) []Ratio {
	find := func(match func(Result) bool) *Result {
		for i, r := range results {
			if match(r) && r.OpsPerSec > 0 {
				return &results[i]
			}
		}
		return nil
	}
	named := func(name string) func(Result) bool { return func(r Result) bool { return r.Name == name } }
	cc := func(alg string) func(Result) bool {
		return func(r Result) bool { return strings.HasPrefix(r.Name, "client_credentials") && r.Alg == alg }
	}
	defs := []struct {
		name     string
		num, den func(Result) bool
		denFixed float64 // a fixed rate instead of a reference run
		target   float64
		extra    bool
	}{
		{"idp jwks / bare jwks", named("jwks"), named("bare jwks"), 0, 0.85, false},
		{"idp discovery / bare discovery", named("discovery"), named("bare discovery"), 0, 0.85, false},
		{"client_credentials ES256 / bare jwks", cc("ES256"), named("bare jwks"), 0, 0.25, false},
		{"client_credentials RS256 / raw RS256 signing", cc("RS256"), named("raw sign RS256"), 0, 0.80, false},
		{"refresh / 1,200 per s", named("refresh"), nil, 1200, 3, false},
		{"code / raw argon2id (2 threads)", named("code"), named("raw argon2id"), 0, 0.85, false},
		{"sso / code", named("sso"), named("code"), 0, 10, false},
		// The reference shares idpbench's process; these compare
		// idp with the same bare handler behind the same process boundary.
		{"idp jwks / bare jwks, own process", named("jwks"), named("bare jwks, own process"), 0, 0.85, true},
		{"idp discovery / bare discovery, own process", named("discovery"), named("bare discovery, own process"), 0, 0.85, true},
	}
	var out []Ratio
	for _, d := range defs {
		num := find(d.num)
		if num == nil {
			continue
		}
		q := Ratio{Name: d.name, Target: d.target, Extra: d.extra}
		if d.den == nil {
			q.Value = num.OpsPerSec / d.denFixed
			if c := cpuPerOp(num); c > 0 {
				// All cores, client included, spent on this operation.
				q.CPU = float64(runtime.NumCPU()) * 1000 / c / d.denFixed
			}
		} else {
			den := find(d.den)
			if den == nil {
				continue
			}
			q.Value = num.OpsPerSec / den.OpsPerSec
			if a, b := cpuPerOp(num), cpuPerOp(den); a > 0 && b > 0 {
				q.CPU = b / a
			}
		}
		q.Pass = q.Value >= q.Target
		out = append(out, q)
	}
	return out
}

// cpuPerOp is a result's CPU ms per operation, or 0 when not measured (a
// run against idp without its /metrics).
func cpuPerOp(r *Result) float64 {
	if r.Usage == nil || (r.Kind == "idp" && !r.Usage.HasServer) {
		return 0
	}
	return r.Usage.CPUPerOp
}

func ifServer(u *Usage, format string, v float64) string {
	if !u.HasServer {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func kv(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
