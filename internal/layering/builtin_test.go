package layering

import (
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kindRoots are the directories whose every subdirectory is a credential
// kind or a secret store.
var kindRoots = []string{"auth", "secretstore"}

// unlisted returns, for each kind (a path such as "auth/aws"), where it is
// missing: from package builtin's imports or from the layering rules.
func unlisted(kinds, builtinImports, ruled []string) []string {
	var out []string
	for _, k := range kinds {
		if !slices.Contains(builtinImports, module+k) {
			out = append(out, k+": not imported by package builtin (builtin/builtin.go)")
		}
		if !slices.Contains(ruled, k) {
			out = append(out, k+": no row in the layering rules (deniedRules in internal/layering)")
		}
	}
	return out
}

// TestEveryKindIsBuiltinAndLayered: a new directory under auth/ or
// secretstore/ is a kind the stock byokcred must have and whose imports
// must be ruled on; adding one is the package, one import in builtin and
// one row here.
func TestEveryKindIsBuiltinAndLayered(t *testing.T) {
	var kinds []string
	for _, root := range kindRoots {
		entries, err := os.ReadDir(path.Join("../..", root))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				kinds = append(kinds, path.Join(root, e.Name()))
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatal("no kind directories found under " + strings.Join(kindRoots, ", "))
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"builtin").Output()
	if err != nil {
		t.Fatalf("go list builtin: %v", err)
	}
	var ruled []string
	for _, r := range deniedRules() {
		ruled = append(ruled, r.pkg)
	}
	if diff := cmp.Diff([]string(nil), unlisted(kinds, strings.Fields(string(out)), ruled)); diff != "" {
		t.Errorf("kinds and stores not listed everywhere (-want +got):\n%s", diff)
	}
}

func TestUnlisted(t *testing.T) {
	builtin := []string{module + "auth/aws", module + "secretstore/vault"}
	ruled := []string{"auth/aws", "secretstore/vault", "auth/fourth"}
	tests := []struct {
		name  string
		kinds []string
		want  []string
	}{
		{"every kind listed", []string{"auth/aws", "secretstore/vault"}, nil},
		{"a kind with a layering row only", []string{"auth/aws", "auth/fourth"},
			[]string{"auth/fourth: not imported by package builtin (builtin/builtin.go)"}},
		{"a store in neither", []string{"secretstore/other"}, []string{
			"secretstore/other: not imported by package builtin (builtin/builtin.go)",
			"secretstore/other: no row in the layering rules (deniedRules in internal/layering)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, unlisted(tc.kinds, builtin, ruled)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
