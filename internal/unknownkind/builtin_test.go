package unknownkind_test

import (
	"testing"

	_ "github.com/byokcred/byokcred/builtin"
	"github.com/byokcred/byokcred/internal/unknownkind"
	"github.com/byokcred/byokcred/kind"
)

// Every kind and store package builtin registers is one BuiltinPackage
// names: a built-in added to builtin must be added there too, or an error
// would not name its import.
func TestBuiltinPackageKnowsEveryBuiltin(t *testing.T) {
	for _, name := range append(kind.Types(), kind.Stores()...) {
		if _, ok := unknownkind.BuiltinPackage(name); !ok {
			t.Errorf("builtin registers %q, which unknownkind.BuiltinPackage does not name", name)
		}
	}
}
