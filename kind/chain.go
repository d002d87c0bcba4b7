package kind

import (
	"context"
	"strings"
	"time"
)

// ChainTry is one candidate of a credential chain for WalkChain.
type ChainTry struct {
	Name string
	// Skip, when set, is why the chain does not consult this candidate; it
	// is reported and the candidate is not tried.
	Skip string
	// Try acquires a credential from the candidate alone.
	Try func(ctx context.Context) error
}

// chainTryTimeout bounds each candidate, so that one hanging endpoint does
// not hide the rest of the chain from `doctor`.
const chainTryTimeout = 15 * time.Second

// WalkChain tries each candidate on its own, in order, and reports which one
// answers first (the one the chain uses) and why each other one did not:
// the walk a Diagnoser shows. Errors are cut to their first line.
func WalkChain(ctx context.Context, tries []ChainTry) []ChainLink {
	out := make([]ChainLink, 0, len(tries))
	answered := false
	for _, c := range tries {
		link := ChainLink{Name: c.Name}
		switch {
		case c.Skip != "":
			link.Err = c.Skip
		default:
			tctx, cancel := context.WithTimeout(ctx, chainTryTimeout)
			err := c.Try(tctx)
			cancel()
			if err != nil {
				link.Err = FirstLine(err.Error())
			} else if !answered {
				link.Answered, answered = true, true
			}
		}
		out = append(out, link)
	}
	return out
}

// FirstLine is s trimmed to its first line: credential libraries' errors
// run to many lines of troubleshooting text.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
