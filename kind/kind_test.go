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

// TestBuildHelpersNeedTheRegistry: the helpers that report into or read the
// file refuse a Build the registry did not make, with a message naming it,
// instead of a nil dereference.
func TestBuildHelpersNeedTheRegistry(t *testing.T) {
	tests := []struct {
		name string
		use  func(b *kind.Build)
	}{
		{"Errorf", func(b *kind.Build) { b.Errorf("k", "x") }},
		{"EnvErrorf", func(b *kind.Build) { b.EnvErrorf("k", "x") }},
		{"Failed", func(b *kind.Build) { b.Failed("k") }},
		{"ProviderErrorf", func(b *kind.Build) { b.ProviderErrorf("base_url", "x") }},
		{"Decode", func(b *kind.Build) { b.Decode("auth", nil, new(struct{})) }},
		{"Plugin", func(b *kind.Build) { b.Plugin("p") }},
		{"PluginScrubber", func(b *kind.Build) { b.PluginScrubber("p") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				tc.use(&kind.Build{Path: "providers.p.auth"})
			}()
			if diff := cmp.Diff(any("kind: Build used to report or read the config, but the registry did not make it"), got); diff != "" {
				t.Errorf("panic (-want +got):\n%s", diff)
			}
		})
	}
}

// nopStore is a store with no keys, for the registration tests.
type nopStore struct{}

func (*nopStore) Validate(*kind.Build)                          {}
func (*nopStore) Reader(*kind.Build) (kind.SecretReader, error) { return nil, nil }

// TestRegisterStore: stores register as auth types do; a duplicate or
// empty name or a nil constructor panics at init, naming the store.
func TestRegisterStore(t *testing.T) {
	kind.RegisterStore("kindtest_nop", func() kind.Store { return new(nopStore) })
	if s, ok := kind.NewStore("kindtest_nop"); !ok || s == nil {
		t.Errorf("NewStore(kindtest_nop) = %v, %v; want a zero block", s, ok)
	}
	if s, ok := kind.NewStore("no_such_store"); ok || s != nil {
		t.Errorf("NewStore(no_such_store) = %v, %v; want nil, false", s, ok)
	}
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"empty name", func() { kind.RegisterStore("", func() kind.Store { return new(nopStore) }) }, "kind: RegisterStore with an empty store name"},
		{"nil constructor", func() { kind.RegisterStore("kindtest_nil", nil) }, "kind: RegisterStore kindtest_nil with a nil constructor"},
		{"duplicate", func() { kind.RegisterStore("kindtest_nop", func() kind.Store { return new(nopStore) }) }, "kind: RegisterStore called twice for store kindtest_nop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				tc.f()
			}()
			if diff := cmp.Diff(any(tc.want), got); diff != "" {
				t.Errorf("panic (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"kindtest_nop"}, kind.Stores()); diff != "" {
		t.Errorf("Stores() (-want +got):\n%s", diff)
	}
}
