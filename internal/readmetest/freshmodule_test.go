package readmetest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestLibraryUseFreshModule tries README.md's "Library use" as a new user
// would: in a fresh module outside this repository, with only what the
// README shows — its code-first main.go, and its YAML program (main.go
// with byokcred.yaml) — both programs are built (one go build) and run,
// and each gets a reply from a loopback model that checks the key.
func TestLibraryUseFreshModule(t *testing.T) {
	t.Parallel() // its own module and go command; sets no process state
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	repo, _ := filepath.Abs(root)
	runtimeDir := filepath.Join(repo, ".tools", "copilot")
	if _, err := os.Stat(runtimeDir); err != nil {
		t.Skipf("no Copilot runtime in %s (make deps)", runtimeDir)
	}
	const key = "CANARY-readme-key-5e1d"
	model, err := fakemodel.Start(fakemodel.Options{Reply: "Hi from loopback", Check: func(r *fakemodel.Request) int {
		if r.Header.Get("Authorization") != "Bearer "+key {
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()

	// Each program in a directory of its own: the YAML one reads
	// byokcred.yaml from its working directory.
	where := map[string]string{
		"codefirst/main.go": "codefirst/main.go",
		"main.go":           "yaml/main.go",
		"byokcred.yaml":     "yaml/byokcred.yaml",
	}
	dir := newModule(t)
	var wrote []string
	for _, lang := range []string{"go", "yaml"} {
		for _, s := range snippets(t, lang) {
			if to, ok := where[s.mark]; ok && s.doc == "README.md" {
				write(t, filepath.Join(dir, to), s.text)
				wrote = append(wrote, to)
			}
		}
	}
	if diff := cmp.Diff([]string{"codefirst/main.go", "yaml/main.go", "yaml/byokcred.yaml"}, wrote); diff != "" {
		t.Fatalf("README.md's snippets marked codefirst/main.go, main.go and byokcred.yaml, in that order (-want +got):\n%s", diff)
	}
	goCmd(t, dir, "build", "-o", "bin/", "./...")

	for _, prog := range []string{"codefirst", "yaml"} {
		t.Run(prog, func(t *testing.T) {
			before := len(model.Requests())
			cmd := exec.Command(filepath.Join(dir, "bin", prog))
			cmd.Dir = filepath.Join(dir, prog)
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "OPENAI_") && !strings.HasPrefix(kv, "COPILOT_CLI_PATH=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "OPENAI_API_KEY="+key, "OPENAI_BASE_URL="+model.URL+"/v1", "COPILOT_CLI_PATH="+runtimeDir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", prog, err, out)
			}
			if diff := cmp.Diff("Hi from loopback\n", string(out)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			reqs := model.Requests()[before:]
			if len(reqs) == 0 || reqs[0].Status != http.StatusOK || reqs[0].Model != "gpt-4.1" {
				t.Errorf("model requests = %+v; want an authorized one for gpt-4.1", reqs)
			}
		})
	}
}
