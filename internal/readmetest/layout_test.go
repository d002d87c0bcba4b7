package readmetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/byokcred/byokcred/"

// TestLayoutListsEveryPackage: every package of the module (`go list
// ./...`) has its path in the README's Layout section, so that the layout
// can be read there and a new package cannot go unmentioned.
func TestLayoutListsEveryPackage(t *testing.T) {
	t.Parallel() // its own module or go command; sets no process state
	if testing.Short() {
		t.Skip("runs go list")
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, ok := layoutSection(string(readme))
	if !ok {
		t.Fatal(`README.md has no "## Layout" section`)
	}
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, module))
	}
	if diff := cmp.Diff([]string(nil), missingFromLayout(section, pkgs)); diff != "" {
		t.Errorf("packages missing from README.md's Layout section; add a row, or name them in their group's row (-want +got):\n%s", diff)
	}
}

// layoutSection returns the text of the README's "## Layout" section.
func layoutSection(readme string) (string, bool) {
	_, after, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		return "", false
	}
	if i := strings.Index(after, "\n## "); i >= 0 {
		after = after[:i]
	}
	return after, true
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// missingFromLayout returns the packages of pkgs (paths relative to the
// module) that no table row of section names. A row names a package by its
// path (`auth/aws/`), or, in a group's row, by the group's directory
// (`internal/testkit/`) and the member's path below it (`fakeaws/`).
func missingFromLayout(section string, pkgs []string) []string {
	named := map[string]bool{}
	for line := range strings.Lines(section) {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		var spans, dirs []string
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			spans = append(spans, m[1])
			if strings.HasSuffix(m[1], "/") {
				dirs = append(dirs, m[1])
			}
		}
		for _, s := range spans {
			named[strings.TrimSuffix(s, "/")] = true
			for _, d := range dirs {
				named[strings.TrimSuffix(d+s, "/")] = true
			}
		}
	}
	var missing []string
	for _, p := range pkgs {
		if !named[p] {
			missing = append(missing, p)
		}
	}
	return missing
}

func TestMissingFromLayout(t *testing.T) {
	const section = "\n| path | what |\n|---|---|\n" +
		"| `credential/` | the contract |\n" +
		"| `auth/static/`, `auth/aws/` | kinds |\n" +
		"| `internal/testkit/` | fakes: `fakeaws/`, `syncbuf/` |\n" +
		"| `tools/` | `gizmo/` |\n" +
		"Prose naming `proxy/` is no row.\n"
	for _, tc := range []struct {
		name string
		pkgs []string
		want []string
	}{
		{"every package named", []string{"credential", "auth/static", "auth/aws", "internal/testkit/fakeaws", "internal/testkit/syncbuf"}, nil},
		{"a new kind", []string{"auth/aws", "auth/newcloud"}, []string{"auth/newcloud"}},
		{"a new member of a group", []string{"internal/testkit/fakeaws", "internal/testkit/fakenew"}, []string{"internal/testkit/fakenew"}},
		{"a member under another directory", []string{"internal/gizmo", "auth/syncbuf"}, []string{"internal/gizmo", "auth/syncbuf"}},
		{"named in prose only", []string{"proxy"}, []string{"proxy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, missingFromLayout(section, tc.pkgs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
