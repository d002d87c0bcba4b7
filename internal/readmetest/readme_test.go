package readmetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/registry"

	// Every built-in credential kind and secret store, as the stock
	// byokcred has them.
	_ "github.com/byokcred/byokcred/builtin"
)

const root = "../.."

var docs = []string{"README.md", "plugins/README.md"}

// snippet is one fenced code block of a doc.
type snippet struct {
	doc  string
	line int    // of the opening fence
	lang string // go, yaml, sh …
	mark string // the `<!-- readmetest: MARK -->` line just before it, if any
	text string
}

func (s snippet) String() string { return fmt.Sprintf("%s:%d", s.doc, s.line) }

func snippets(t *testing.T, lang string) []snippet {
	t.Helper()
	var out []snippet
	for _, doc := range docs {
		f, err := os.Open(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var cur *snippet
		mark := ""
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur == nil && strings.HasPrefix(line, "```") && len(line) > 3:
				cur = &snippet{doc: doc, line: n, lang: strings.TrimPrefix(line, "```"), mark: mark}
			case cur != nil && line == "```":
				if cur.lang == lang {
					out = append(out, *cur)
				}
				cur = nil
			case cur != nil:
				cur.text += line + "\n"
			}
			if m, ok := strings.CutPrefix(line, "<!-- readmetest: "); ok {
				mark = strings.TrimSuffix(m, " -->")
			} else if strings.TrimSpace(line) != "" {
				mark = ""
			}
		}
		f.Close()
	}
	return out
}

// newModule writes a module outside this repository that requires byokcred
// through a replace directive, the way `go get` would add it (offline: the
// dependencies' versions are byokcred's own, all in the module cache).
func newModule(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for _, l := range strings.Split(string(gomod), "\n") {
		if strings.HasPrefix(l, "module ") || strings.HasPrefix(l, "toolchain ") {
			continue
		}
		reqs = append(reqs, l)
	}
	dir := t.TempDir()
	mod := "module example.com/agent\n\n" + strings.Join(reqs, "\n") +
		"\nrequire github.com/byokcred/byokcred v0.0.0\n\nreplace github.com/byokcred/byokcred => " + repo + "\n"
	write(t, filepath.Join(dir, "go.mod"), mod)
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "go.sum"), string(sum))
	return dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestGoSnippetsCompile: each Go snippet with a package clause is a file
// of its own package in a fresh module, and the module builds. A snippet
// that is not a whole file must be marked `<!-- readmetest: fragment -->`.
func TestGoSnippetsCompile(t *testing.T) {
	t.Parallel() // its own module or go command; sets no process state
	if testing.Short() {
		t.Skip("-short: builds a module")
	}
	dir := newModule(t)
	n := 0
	for _, s := range snippets(t, "go") {
		if s.mark == "fragment" {
			continue
		}
		if !strings.HasPrefix(s.text, "package ") && !strings.Contains(s.text, "\npackage ") {
			t.Errorf("%s: a Go snippet without a package clause: make it a whole file or mark it <!-- readmetest: fragment -->", s)
			continue
		}
		n++
		write(t, filepath.Join(dir, fmt.Sprintf("snippet%d", n), "snippet.go"), s.text)
	}
	if n == 0 {
		t.Fatal("no Go snippets found")
	}
	goCmd(t, dir, "vet", "./...")
}

// The plugin guide's complete plugin is the example that is built and
// tested, byte for byte from its package clause on.
func TestPluginGuideShowsTheExample(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(root, "plugins/examples/static/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snippets(t, "go") {
		if s.mark == "plugins/examples/static/main.go" {
			// The file's doc comment above the package clause is not shown.
			body := string(want)[strings.Index(string(want), "package "):]
			if diff := cmp.Diff(body, s.text); diff != "" {
				t.Errorf("%s differs from plugins/examples/static/main.go (-file +doc):\n%s", s, diff)
			}
			return
		}
	}
	t.Error("plugins/README.md has no snippet marked <!-- readmetest: plugins/examples/static/main.go -->")
}

// TestYAMLSnippetsLoad: each YAML snippet that is a whole config passes the
// JSON Schema and the loader's own checks as `validate --offline` makes
// them (structure, URLs, values, auth blocks; no secrets needed). A
// snippet that shows one block must be marked `<!-- readmetest: fragment -->`.
func TestYAMLSnippetsLoad(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "byokcred.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sch jsonschema.Schema
	if err := json.Unmarshal(b, &sch); err != nil {
		t.Fatal(err)
	}
	rs, err := sch.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snippets(t, "yaml") {
		if s.mark == "fragment" {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			var v any
			if err := yaml.Unmarshal([]byte(s.text), &v); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			j, _ := json.Marshal(v)
			var jv any
			json.Unmarshal(j, &jv)
			if err := rs.Validate(jv); err != nil {
				t.Errorf("schema: %v", err)
			}
			// As `validate --offline` sees it: every key, auth blocks
			// included; no variable set, no file or binary present.
			path := filepath.Join(t.TempDir(), "byokcred.yaml")
			write(t, path, s.text)
			set, err := registry.Load(path, registry.Options{Offline: true, LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Errorf("loader: %v", err)
			} else {
				set.Close()
			}
		})
	}
}
