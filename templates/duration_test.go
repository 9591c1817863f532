package templates

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0 seconds",
		time.Millisecond:                   "less than a second",
		time.Second:                        "1 second",
		2 * time.Second:                    "2 seconds",
		4*time.Minute + 10*time.Second:     "4 minutes 10 seconds",
		5 * time.Minute:                    "5 minutes",
		5*time.Minute + 5*time.Second:      "5 minutes 5 seconds",
		time.Hour + 30*time.Minute:         "1 hour 30 minutes",
		time.Hour + 59*time.Second:         "1 hour",
		720 * time.Hour:                    "30 days",
		25*time.Hour + 3*time.Minute:       "1 day 1 hour",
		48*time.Hour + 5*time.Minute:       "2 days",
		-(90 * time.Second):                "1 minute 30 seconds",
		336*time.Hour + 90*time.Minute:     "14 days 1 hour",
		time.Minute + 999*time.Millisecond: "1 minute",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
