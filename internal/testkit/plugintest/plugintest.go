// Package plugintest builds byokcred's shipped plugins for tests and the
// demo, and finds plugin processes, so that tests can kill them and check
// that none is left behind.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// moduleRoot finds the directory holding go.mod, from this source file.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("plugintest: cannot locate source")
	}
	d := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("plugintest: go.mod not found above %s", file)
		}
		d = parent
	}
}

// PrebuiltEnv names a directory of plugins already built from this tree:
// make test builds bin/plugins once (make's rules rebuild it when a source
// changes) for the six test packages that run plugins, instead of each
// linking its own copies. Unset, Build compiles them.
const PrebuiltEnv = "BYOKCRED_TEST_PLUGINS"

// Build compiles the shipped plugin name (exec, file or oauth2) once per
// process and returns the binary's path. A stray bin/plugins binary is not
// used unless $BYOKCRED_TEST_PLUGINS names its directory: tests must run
// the code under test.
func Build(name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[name]; ok {
		return p, nil
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "byokcred-plugins-"); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, "byokcred-plugin-"+name)
	if prebuilt := os.Getenv(PrebuiltEnv); prebuilt != "" {
		// Copied, not run in place: PIDs finds a test's plugin processes
		// by their binary's path, which other test packages running at
		// the same time must not share.
		data, err := os.ReadFile(filepath.Join(prebuilt, "byokcred-plugin-"+name))
		if err != nil {
			return "", fmt.Errorf("plugintest: $%s: %v", PrebuiltEnv, err)
		}
		if err := os.WriteFile(out, data, 0o755); err != nil {
			return "", err
		}
		built[name] = out
		return out, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", out, "./plugins/"+name+"/cmd/byokcred-plugin-"+name)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("plugintest: building %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out, nil
}

// Cleanup removes the built binaries.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	dir, built = "", map[string]string{}
}

// PIDs returns the processes running the binary at path (Linux /proc).
func PIDs(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		if strings.TrimSuffix(exe, " (deleted)") == path {
			pids = append(pids, pid)
		}
	}
	return pids
}
