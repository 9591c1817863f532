package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is a snapshot of what the server (from its /metrics) and this
// process have consumed. On a shared or loaded machine, CPU time per
// operation is far steadier than operations per second, and it tells
// whether the server was busy, starved, or waiting on its database pool.
type usage struct {
	at         time.Time
	server     bool    // /metrics answered
	serverCPU  float64 // process_cpu_seconds_total
	dbWaits    float64 // go_sql_wait_count_total
	dbWaitSecs float64 // go_sql_wait_duration_seconds_total
	server5xx  float64 // idp_http_requests_total with a 5xx status
	clientCPU  float64 // this process, user + system seconds
}

// Usage is the difference of two snapshots over the measured window.
type Usage struct {
	ServerCores    float64 `json:"server_cores"`           // CPU seconds per second
	ServerCPUPerOp float64 `json:"server_cpu_ms_per_op"`   // ms of server CPU per operation
	DBWaitsPerOp   float64 `json:"db_pool_waits_per_op"`   // connection-pool waits per operation
	DBWaitMsPerOp  float64 `json:"db_pool_wait_ms_per_op"` // ms spent waiting for a pooled connection per operation
	Server5xx      float64 `json:"server_5xx"`             // 5xx answers the server counted
	ClientCores    float64 `json:"client_cores"`           // idpbench's own CPU seconds per second
	HasServer      bool    `json:"server_metrics"`         // whether /metrics was readable
	CPUPerOp       float64 `json:"cpu_ms_per_op"`          // server + client CPU ms per operation
}

// watch takes a snapshot at from and one at end, in the background; wait
// returns the usage between them.
func (t *target) watch(ctx context.Context, from, end time.Time) (wait func(opsPerSec float64) *Usage) {
	var a, b usage
	done := make(chan struct{})
	go func() {
		defer close(done)
		if sleepUntil(ctx, from) {
			a = t.snapshot(ctx)
		}
		if sleepUntil(ctx, end) {
			b = t.snapshot(ctx)
		}
	}()
	return func(opsPerSec float64) *Usage {
		<-done
		if a.at.IsZero() || b.at.IsZero() {
			return nil
		}
		return diff(a, b, opsPerSec)
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// snapshot reads /metrics of the target (if it has one), the CPU time of
// its process (with --server-pid) and this process's CPU time.
func (t *target) snapshot(ctx context.Context) usage {
	u := t.metricsSnapshot(ctx)
	if t != nil && t.pid > 0 {
		if cpu, ok := procCPU(t.pid); ok {
			u.server, u.serverCPU = true, cpu
		}
	}
	return u
}

func (t *target) metricsSnapshot(ctx context.Context) usage {
	u := usage{at: time.Now(), clientCPU: selfCPU()}
	if t == nil || t.metricsURL == "" {
		return u
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.metricsURL, nil)
	if err != nil {
		return u
	}
	resp, err := t.client(nil).Do(req)
	if err != nil {
		return u
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return u
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	m := parseMetrics(buf.Bytes())
	u.server = true
	u.serverCPU = m.sum("process_cpu_seconds_total", nil)
	u.dbWaits = m.sum("go_sql_wait_count_total", nil)
	u.dbWaitSecs = m.sum("go_sql_wait_duration_seconds_total", nil)
	u.server5xx = m.sum("idp_http_requests_total", func(labels string) bool { return strings.Contains(labels, `status="5`) })
	return u
}

// diff is the usage between a and b at opsPerSec operations per second.
// CPUPerOp counts the server and this process (the client, and for the
// references the bare handler or the raw loop itself).
func diff(a, b usage, opsPerSec float64) *Usage {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 || a.at.IsZero() {
		return nil
	}
	ops := opsPerSec * secs
	out := &Usage{ClientCores: (b.clientCPU - a.clientCPU) / secs, HasServer: a.server && b.server}
	if ops > 0 {
		out.CPUPerOp = (b.clientCPU - a.clientCPU) * 1000 / ops
	}
	if !out.HasServer {
		return out
	}
	out.ServerCores = (b.serverCPU - a.serverCPU) / secs
	out.Server5xx = b.server5xx - a.server5xx
	if ops > 0 {
		out.CPUPerOp += (b.serverCPU - a.serverCPU) * 1000 / ops
		out.ServerCPUPerOp = (b.serverCPU - a.serverCPU) * 1000 / ops
		out.DBWaitsPerOp = (b.dbWaits - a.dbWaits) / ops
		out.DBWaitMsPerOp = (b.dbWaitSecs - a.dbWaitSecs) * 1000 / ops
	}
	return out
}

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	name, labels string
	value        float64
}

type promMetrics []promSample

// parseMetrics reads the Prometheus text exposition format, enough for
// counters and gauges: "name{labels} value [timestamp]"; comments skipped.
func parseMetrics(b []byte) promMetrics {
	var out promMetrics
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := line, "", ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, labels, rest = line[:i], line[i+1:j], line[j+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out = append(out, promSample{name: name, labels: labels, value: v})
	}
	return out
}

// sum adds the samples of name whose labels match (all when match is nil).
func (m promMetrics) sum(name string, match func(labels string) bool) float64 {
	var s float64
	for _, x := range m {
		if x.name == name && (match == nil || match(x.labels)) {
			s += x.value
		}
	}
	return s
}

// selfCPU is this process's user + system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
