package adminhttp

import (
	"time"

	"idp/admin"
	"idp/keys"
	"idp/templates"
)

// timelineWidth is the SVG viewBox width the bars are laid out in.
const timelineWidth = 1000.0

// span is the window in which one key is (or will be) in the JWKS.
type span struct {
	k          admin.Key
	start, end time.Time
}

// timelines lays out, per algorithm, one bar per published key over the
// window in which it is (or will be) in the JWKS: a next key until it is
// expected to retire, the active key until its scheduled rotation, a
// retired key until it leaves the JWKS. Revoked keys are not drawn.
func timelines(list []admin.Key, now time.Time, interval time.Duration) []templates.Timeline {
	if interval <= 0 {
		interval = 30 * 24 * time.Hour
	}
	var out []templates.Timeline
	for _, alg := range keys.Algs {
		spans := keySpans(list, alg, now, interval)
		if len(spans) == 0 {
			continue
		}
		out = append(out, layout(alg, spans, now, interval))
	}
	return out
}

// keySpans returns the spans of alg's published keys, timed from when its
// active key was activated (or now, if it has none).
func keySpans(list []admin.Key, alg string, now time.Time, interval time.Duration) []span {
	var activeSince time.Time
	for _, k := range list {
		if k.Alg == alg && k.State == keys.StateActive && k.Activated != nil {
			activeSince = k.Activated.Time
		}
	}
	if activeSince.IsZero() {
		activeSince = now
	}
	var spans []span
	for _, k := range list {
		if k.Alg != alg {
			continue
		}
		sp := span{k: k, start: k.Created.Time}
		switch k.State {
		case keys.StateNext:
			sp.end = activeSince.Add(2 * interval)
		case keys.StateActive:
			sp.end = activeSince.Add(interval)
		case keys.StateRetired:
			if k.NotAfter == nil || !k.NotAfter.After(now) {
				continue // no longer published
			}
			sp.end = k.NotAfter.Time
		default:
			continue
		}
		spans = append(spans, sp)
	}
	return spans
}

// layout draws one algorithm's spans as bars over a window that holds them
// all and at least the next interval from now.
func layout(alg string, spans []span, now time.Time, interval time.Duration) templates.Timeline {
	start, end := now, now.Add(interval)
	for _, sp := range spans {
		if sp.start.Before(start) {
			start = sp.start
		}
		if sp.end.After(end) {
			end = sp.end
		}
	}
	x := func(t time.Time) float64 {
		return float64(t.Sub(start)) / float64(end.Sub(start)) * timelineWidth
	}
	tl := templates.Timeline{Alg: alg, NowX: x(now), StartLabel: start.UTC().Format("2 Jan 2006"),
		NowLabel: now.UTC().Format("2 Jan 15:04"), EndLabel: end.UTC().Format("2 Jan 2006")}
	for _, sp := range spans {
		w := x(sp.end) - x(sp.start)
		if w < 4 {
			w = 4
		}
		kid := sp.k.KID
		if len(kid) > 10 {
			kid = kid[:10] + "…"
		}
		tl.Bars = append(tl.Bars, templates.TimelineBar{KID: sp.k.KID, State: sp.k.State, X: x(sp.start), Width: w,
			Label: kid + " " + sp.k.State})
	}
	return tl
}
