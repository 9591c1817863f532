package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// `idpbench compare` reads the --json output of several runs of the same
// scenarios against different servers (bench/side-by-side.sh: idp on
// SQLite, idp on PostgreSQL, node-oidc-provider) and prints them side by
// side, each as a ratio of the reference server, with the servers' memory.

// serverRun is one server's --json output and what the script measured of its
// process.
type serverRun struct {
	name    string
	results []Result
	ok      bool // the summary line said so
	idleKiB int64
	peakKiB int64
}

// compareOpts are the flags of `idpbench compare`.
type compareOpts struct {
	versus    string  // the reference run's name; default the last
	target    float64 // the ratio each other run should reach
	rssTarget float64 // MiB of idle RSS the first run should stay under; 0: none
}

// compareMain is `idpbench compare [flags] NAME=FILE...`; it returns the
// exit code: 0 when every run was free of errors, 1 otherwise, 2 for a
// usage error. Missed targets do not fail it.
func compareMain(args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("idpbench compare", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var o compareOpts
	var rss []string
	fs.StringVar(&o.versus, "versus", "", "name of the reference run the others are divided by (default: the last)")
	fs.Float64Var(&o.target, "target", 1.5, "ops/s ratio each run should reach against the reference")
	fs.Float64Var(&o.rssTarget, "idle-rss-target", 48, "MiB of idle RSS the first run should stay under (0: no target)")
	fs.Func("rss", "NAME=IDLE_KIB[:PEAK_KIB]: VmRSS after start-up and VmHWM after the run (repeatable)", func(v string) error {
		rss = append(rss, v)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: idpbench compare [flags] NAME=FILE... (FILE: the --json output of one run)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	runs, err := loadRuns(fs.Args(), rss)
	if err == nil && o.versus == "" {
		o.versus = runs[len(runs)-1].name
	}
	if err != nil {
		fmt.Fprintf(errOut, "idpbench compare: %v\n", err)
		return 2
	}
	ok, err := writeComparison(out, runs, o)
	if err != nil {
		fmt.Fprintf(errOut, "idpbench compare: %v\n", err)
		return 2
	}
	if !ok {
		return 1
	}
	return 0
}

// loadRuns reads NAME=FILE arguments and attaches the --rss figures.
func loadRuns(args, rss []string) ([]*serverRun, error) {
	if len(args) < 2 {
		return nil, errors.New("want at least two NAME=FILE arguments")
	}
	var runs []*serverRun
	byName := map[string]*serverRun{}
	for _, a := range args {
		name, file, ok := strings.Cut(a, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("argument %q: want NAME=FILE", a)
		}
		if byName[name] != nil {
			return nil, fmt.Errorf("run %q named twice", name)
		}
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		r, err := readRun(name, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		runs = append(runs, r)
		byName[name] = r
	}
	for _, v := range rss {
		name, kib, _ := strings.Cut(v, "=")
		r := byName[name]
		if r == nil {
			return nil, fmt.Errorf("--rss %q: no run named %q", v, name)
		}
		idle, peak, hasPeak := strings.Cut(kib, ":")
		var err error
		if r.idleKiB, err = strconv.ParseInt(idle, 10, 64); err != nil {
			return nil, fmt.Errorf("--rss %q: %w", v, err)
		}
		if hasPeak {
			if r.peakKiB, err = strconv.ParseInt(peak, 10, 64); err != nil {
				return nil, fmt.Errorf("--rss %q: %w", v, err)
			}
		}
	}
	return runs, nil
}

// readRun parses the JSON lines of one run: its results and its summary.
func readRun(name string, in io.Reader) (*serverRun, error) {
	r := &serverRun{name: name, ok: true}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	summary := false
	for sc.Scan() {
		line := sc.Bytes()
		var typ struct {
			Type string `json:"type"`
			OK   bool   `json:"ok"`
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &typ); err != nil {
			return nil, fmt.Errorf("not a JSON line: %.60q", line)
		}
		switch typ.Type {
		case "result":
			var res Result
			if err := json.Unmarshal(line, &res); err != nil {
				return nil, err
			}
			r.results = append(r.results, res)
		case "summary": // one per idpbench invocation appended to the file
			summary, r.ok = true, r.ok && typ.OK
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !summary {
		return nil, errors.New("no summary line: the run did not finish")
	}
	return r, nil
}

// scenarioKey names a result across servers: its scenario without the
// client id, and its signing algorithm.
func scenarioKey(res Result) string {
	name, _, _ := strings.Cut(res.Name, "/")
	if res.Alg != "" {
		return name + " " + res.Alg
	}
	return name
}

// writeComparison prints one row per scenario and server, with the ratio
// of ops/s to the reference run's, then the memory table. It reports
// whether every run was free of errors.
func writeComparison(out io.Writer, runs []*serverRun, o compareOpts) (bool, error) {
	var ref *serverRun
	for _, r := range runs {
		if r.name == o.versus {
			ref = r
		}
	}
	if ref == nil {
		return false, fmt.Errorf("--versus %q: no such run", o.versus)
	}
	var keys []string
	rounds := 1
	// find returns the median by ops/s of a server's results for key
	// (several rounds appended to one file), the lower one of an even count.
	find := func(r *serverRun, key string) *Result {
		var all []*Result
		for i := range r.results {
			if scenarioKey(r.results[i]) == key {
				all = append(all, &r.results[i])
			}
		}
		if len(all) == 0 {
			return nil
		}
		rounds = max(rounds, len(all))
		sort.SliceStable(all, func(i, j int) bool { return all[i].OpsPerSec < all[j].OpsPerSec })
		return all[(len(all)-1)/2]
	}
	for _, r := range runs {
		for _, res := range r.results {
			if !contains(keys, scenarioKey(res)) {
				keys = append(keys, scenarioKey(res))
			}
		}
	}
	ok := true
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	// "by CPU" is the ratio from CPU time per operation (server and
	// idpbench): what it would be if both were CPU-bound and could use the
	// same cores. On a loaded machine, where each server gets a share of
	// the CPU, the measured ratio comes close to it.
	fmt.Fprintf(tw, "scenario\tserver\tops/s\treq/s\tp50 ms\tp99 ms\terrors\tsrv cores\tcpu ms/op\tload 1m\t÷ %s\ttarget\tby CPU\t\n", ref.name)
	for _, key := range keys {
		den := find(ref, key)
		for _, r := range runs {
			res := find(r, key)
			if res == nil {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\t-\t\n", key, r.name)
				continue
			}
			srv, cpu := "-", "-"
			if u := res.Usage; u != nil && u.HasServer {
				srv, cpu = fmt.Sprintf("%.2f", u.ServerCores), fmt.Sprintf("%.3f", u.CPUPerOp)
			}
			ratio, verdict, byCPU := "-", "", "-"
			if den != nil && den.OpsPerSec > 0 {
				q := res.OpsPerSec / den.OpsPerSec
				ratio = fmt.Sprintf("%.2f", q)
				if r != ref {
					verdict = fmt.Sprintf("≥ %.2f %s", o.target, passMiss(q >= o.target))
				}
				if a, b := cpuPerOp(res), cpuPerOp(den); a > 0 && b > 0 {
					byCPU = fmt.Sprintf("%.2f", b/a)
				}
			}
			errs := 0
			for _, all := range r.results {
				if scenarioKey(all) == key {
					errs += all.Errors + all.SetupErrors
					ok = ok && all.Reuse.OK()
				}
			}
			ok = ok && errs == 0
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.2f\t%.2f\t%d\t%s\t%s\t%.1f→%.1f\t%s\t%s\t%s\t\n",
				key, r.name, res.OpsPerSec, res.ReqPerSec, res.P50ms, res.P99ms, errs, srv, cpu,
				res.Load1[0], res.Load1[1], ratio, verdict, byCPU)
		}
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	if rounds > 1 {
		fmt.Fprintf(out, "each row: the median of %d rounds by ops/s; errors: all rounds\n", rounds)
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tidle RSS MiB\tpeak RSS MiB\ttarget\t")
	for i, r := range runs {
		ok = ok && r.ok
		verdict := ""
		if i == 0 && o.rssTarget > 0 && r.idleKiB > 0 {
			verdict = fmt.Sprintf("idle < %.0f %s", o.rssTarget, passMiss(mib(r.idleKiB) < o.rssTarget))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.name, mibText(r.idleKiB), mibText(r.peakKiB), verdict)
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	for _, r := range runs {
		for _, res := range r.results {
			for _, k := range sortedKeys(res.ErrorKinds) {
				fmt.Fprintf(out, "%s %s: %d × %s, e.g. %s\n", r.name, res.Name, res.ErrorKinds[k], k, res.Examples[k])
			}
			if rc := res.Reuse; rc != nil && !rc.OK() {
				fmt.Fprintf(out, "%s %s: reuse check FAILURES %v (e.g. %s)\n", r.name, res.Name, rc.Failures, rc.Example)
			}
		}
	}
	if ok {
		fmt.Fprintln(out, "no errors")
	} else {
		fmt.Fprintln(out, "ERRORS: see above")
	}
	return ok, nil
}

func passMiss(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func mibText(kib int64) string {
	if kib <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", mib(kib))
}
