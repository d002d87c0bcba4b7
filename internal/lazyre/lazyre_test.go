package lazyre

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSameAsRegexp: each method answers as *regexp.Regexp's does.
func TestSameAsRegexp(t *testing.T) {
	t.Parallel()
	const expr = `(?i)\b(bearer)\s+([a-z0-9]{1,512})`
	lazy, eager := New(expr), regexp.MustCompile(expr)
	tests := []struct {
		name      string
		got, want any
	}{
		{"MatchString", lazy.MatchString("x Bearer abc"), eager.MatchString("x Bearer abc")},
		{"MatchString, no match", lazy.MatchString("basic abc"), eager.MatchString("basic abc")},
		{"FindStringSubmatch", lazy.FindStringSubmatch("x Bearer abc y"), eager.FindStringSubmatch("x Bearer abc y")},
		{"FindStringSubmatch, no match", lazy.FindStringSubmatch("none"), eager.FindStringSubmatch("none")},
		{"ReplaceAllString", lazy.ReplaceAllString("a bearer xyz b", "$1 ***"), eager.ReplaceAllString("a bearer xyz b", "$1 ***")},
		{"ReplaceAllStringFunc", lazy.ReplaceAllStringFunc("a bearer xyz", strings.ToUpper), eager.ReplaceAllStringFunc("a bearer xyz", strings.ToUpper)},
		{"String", lazy.String(), eager.String()},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-regexp +lazyre):\n%s", tt.name, diff)
		}
	}
}

// TestCompiledOnceOnFirstUse: New compiles nothing; concurrent first uses
// share one compiled expression.
func TestCompiledOnceOnFirstUse(t *testing.T) {
	t.Parallel()
	r := New(`^[a-z]{1,64}$`)
	if r.re != nil {
		t.Fatal("New compiled the expression")
	}
	var wg sync.WaitGroup
	got := make([]*regexp.Regexp, 8)
	for i := range got {
		wg.Go(func() { got[i] = r.Regexp() })
	}
	wg.Wait()
	for i, re := range got {
		if re != got[0] {
			t.Errorf("use %d got another compiled expression", i)
		}
	}
}

// TestInvalidPatternPanicsOnFirstUse: as regexp.MustCompile, at first use.
func TestInvalidPatternPanicsOnFirstUse(t *testing.T) {
	t.Parallel()
	r := New(`(`)
	defer func() {
		if recover() == nil {
			t.Error("an invalid pattern did not panic on first use")
		}
	}()
	r.MatchString("x")
}
