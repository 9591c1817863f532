package templates

import (
	"strconv"
	"strings"
	"time"
)

// Duration writes d for people: its two largest units, rounded down, as in
// "30 days", "1 hour 30 minutes" or "4 seconds" rather than Go's
// "720h0m0s". Below a second it says "less than a second"; a negative d is
// written as its magnitude.
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Second {
		if d == 0 {
			return "0 seconds"
		}
		return "less than a second"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	var parts []string
	for i, u := range units {
		n := d / u.size
		if n == 0 {
			if len(parts) > 0 {
				break // "1 day", not "1 day 0 hours 5 minutes"
			}
			continue
		}
		d -= n * u.size
		name := u.name
		if n != 1 {
			name += "s"
		}
		parts = append(parts, strconv.FormatInt(int64(n), 10)+" "+name)
		if len(parts) == 2 || i == len(units)-1 {
			break
		}
	}
	return strings.Join(parts, " ")
}
