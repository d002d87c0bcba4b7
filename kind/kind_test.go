package kind_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/kind"
)

// TestBuildOnlyFromTheRegistry: a Build a kind (or its test) makes itself
// reaches no set, so Shared refuses it instead of keeping state nowhere.
func TestBuildOnlyFromTheRegistry(t *testing.T) {
	tests := []struct {
		name string
		b    *kind.Build
	}{
		{"zero Build", &kind.Build{}},
		{"Sub of a zero Build", (&kind.Build{Path: "providers.p.auth"}).Sub("auth")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				tc.b.Shared("k", func() any { return 1 })
			}()
			if diff := cmp.Diff(any("kind: Build.Shared on a Build the registry did not make"), got); diff != "" {
				t.Errorf("panic (-want +got):\n%s", diff)
			}
		})
	}
}
