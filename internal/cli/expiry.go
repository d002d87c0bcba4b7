package cli

import (
	"fmt"
	"math"
	"time"
)

// expiresIn describes how long until exp for a human: a duration up to two
// days, then days, then years. time.Until saturates after 292 years and
// printed a token with a far-away exp as "2562047h47m16.85s".
func expiresIn(exp, now time.Time) string {
	const day = 24 * time.Hour
	d := exp.Sub(now)
	switch {
	case d < 0:
		return "expired " + (-d).Round(time.Second).String() + " ago"
	case d < 2*day:
		return "in " + d.Round(time.Second).String()
	case d < 2*365*day:
		return fmt.Sprintf("in %d days", d/day)
	}
	// From the calendar, not from d, which saturates.
	years := exp.Year() - now.Year()
	if now.AddDate(years, 0, 0).After(exp) {
		years--
	}
	return fmt.Sprintf("in %d years", years)
}

// expiresInDuration is the machine form (Go duration syntax) for JSON, or ""
// when the time is too far away for a time.Duration.
func expiresInDuration(exp, now time.Time) string {
	d := exp.Sub(now)
	if d == math.MaxInt64 || d == math.MinInt64 {
		return ""
	}
	return d.Round(time.Second).String()
}
