// Package lazyre is a regular expression compiled on its first use instead
// of at package initialisation. Every byokcred command pays every linked
// package's init before main runs — the key command the Copilot CLI runs
// before each model request, shell completion on each TAB — while a
// pattern is needed only by the command that validates or parses with it.
// Patterns with counted repetitions are the costly ones: `{1,512}` compiles
// to a program of 512 copies (~0.5 MB and ~0.5 ms for one such pattern).
//
// A *Regexp has the methods of *regexp.Regexp that byokcred's packages use,
// so a package-level `regexp.MustCompile(…)` becomes `lazyre.New(…)` with
// no change at its call sites. An invalid pattern panics at its first use,
// as MustCompile would at init: each package's tests exercise its patterns.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regular expression compiled once, on first use; safe for
// concurrent use, as *regexp.Regexp is.
type Regexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// New returns expr to be compiled on first use. It does no work now.
func New(expr string) *Regexp { return &Regexp{expr: expr} }

// Regexp returns the compiled expression, compiling it on the first call.
func (r *Regexp) Regexp() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

// String returns the source text, without compiling it.
func (r *Regexp) String() string { return r.expr }

// MatchString is [regexp.Regexp.MatchString].
func (r *Regexp) MatchString(s string) bool { return r.Regexp().MatchString(s) }

// FindStringSubmatch is [regexp.Regexp.FindStringSubmatch].
func (r *Regexp) FindStringSubmatch(s string) []string { return r.Regexp().FindStringSubmatch(s) }

// ReplaceAllString is [regexp.Regexp.ReplaceAllString].
func (r *Regexp) ReplaceAllString(src, repl string) string {
	return r.Regexp().ReplaceAllString(src, repl)
}

// ReplaceAllStringFunc is [regexp.Regexp.ReplaceAllStringFunc].
func (r *Regexp) ReplaceAllStringFunc(src string, repl func(string) string) string {
	return r.Regexp().ReplaceAllStringFunc(src, repl)
}
