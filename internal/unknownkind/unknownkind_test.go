package unknownkind

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMessage(t *testing.T) {
	tests := []struct {
		name          string
		what, whats   string
		known         []string
		builtinLinked bool
		want          string
	}{
		{"no kind registered", "auth type", "auth types", nil, false,
			`unknown auth type "statik": no auth types are registered in this program; import the packages of the ones it uses, or every built-in one with import _ "github.com/byokcred/byokcred/builtin"`},
		{"some kinds registered", "auth type", "auth types", []string{"entra", "static"}, false,
			`unknown auth type "statik"; did you mean "static"? (known: entra, static; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`},
		{"the built-ins registered", "auth type", "auth types", []string{"aws", "entra", "gateway", "gcp", "plugin", "static"}, true,
			`unknown auth type "statik"; did you mean "static"? (known: aws, entra, gateway, gcp, plugin, static)`},
		{"no store registered", "store", "secret stores", nil, false,
			`unknown store "statik": no secret stores are registered in this program; import the packages of the ones it uses, or every built-in one with import _ "github.com/byokcred/byokcred/builtin"`},
		{"some stores registered", "store", "secret stores", []string{"azure_key_vault"}, false,
			`unknown store "statik" (known: azure_key_vault; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := message(tc.what, tc.whats, "statik", tc.known, tc.builtinLinked).Error()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A built-in kind the program did not import is named with its package,
// whether or not other kinds are registered.
func TestMessageNamesTheBuiltinImport(t *testing.T) {
	tests := []struct {
		name, kind  string
		what, whats string
		known       []string
		want        string
	}{
		{"no kind registered", "aws", "auth type", "auth types", nil,
			`unknown auth type "aws" (no auth types are registered in this program): it is built in; register it with import _ "github.com/byokcred/byokcred/auth/aws" (or every built-in one with import _ "github.com/byokcred/byokcred/builtin")`},
		{"others registered", "entra", "auth type", "auth types", []string{"static"},
			`unknown auth type "entra" (known: static): it is built in; register it with import _ "github.com/byokcred/byokcred/auth/entra" (or every built-in one with import _ "github.com/byokcred/byokcred/builtin")`},
		{"a store", "azure_key_vault", "store", "secret stores", []string{"aws_secrets_manager"},
			`unknown store "azure_key_vault" (known: aws_secrets_manager): it is built in; register it with import _ "github.com/byokcred/byokcred/secretstore/azurekeyvault" (or every built-in one with import _ "github.com/byokcred/byokcred/builtin")`},
		{"not built in", "gateway", "auth type", "auth types", []string{"static"},
			`unknown auth type "gateway" (known: static; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := message(tc.what, tc.whats, tc.kind, tc.known, false).Error()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name  string
		known []string
		want  string
	}{
		{"none registered", nil,
			`missing key "type": no auth types are registered in this program; import the packages of the ones it uses, or every built-in one with import _ "github.com/byokcred/byokcred/builtin"`},
		{"some registered", []string{"entra", "static"}, `missing key "type" (known auth types: entra, static)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Missing("type", "auth types", "known auth types", tc.known).Error()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
