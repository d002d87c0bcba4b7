package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/registry"

	// Every built-in credential kind and secret store, as the stock
	// byokcred has them.
	_ "github.com/byokcred/byokcred/builtin"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stopRuntime()
	removeBinaries()
	os.Exit(code)
}

// loadSet builds a registry set from YAML the way a config file is loaded
// (registry.New over config.Parse) and closes it when tb ends.
func loadSet(tb testing.TB, yaml string, opts registry.Options) *registry.Set {
	tb.Helper()
	set, err := newSet(yaml, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { set.Close() })
	return set
}

func newSet(yaml string, opts registry.Options) (*registry.Set, error) {
	cfg, err := config.Parse("bench.yaml", []byte(yaml), opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	return registry.New(cfg, opts)
}

// envMap is a LookupEnv over a map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// setEnv sets variables for the rest of tb (azidentity reads
// IDENTITY_ENDPOINT and IDENTITY_HEADER from the process environment).
func setEnv(tb testing.TB, env map[string]string) {
	for k, v := range env {
		tb.Setenv(k, v)
	}
}

// The helper binaries (bench/internal/...) are built once per benchmark
// binary, by one `go build`, into a temporary directory, unless
// $BYOKCRED_BENCH_BIN names a directory that holds them already (bench/run.sh
// builds them once for all its runs).
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary returns the path of the helper command bench/internal/<name>.
func binary(tb testing.TB, name string) string {
	tb.Helper()
	if dir := os.Getenv("BYOKCRED_BENCH_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if !fileExists(p) {
			tb.Fatalf("$BYOKCRED_BENCH_BIN=%s has no %s", dir, name)
		}
		return p
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "byokcred-bench-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command(goTool(), "build", "-o", binDir+string(filepath.Separator),
			"github.com/byokcred/byokcred/bench/internal/tokenprog",
			"github.com/byokcred/byokcred/bench/internal/tokenexec",
			"github.com/byokcred/byokcred/bench/internal/footprint",
			"github.com/byokcred/byokcred/bench/internal/hello",
			"github.com/byokcred/byokcred/cmd/byokcred")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the benchmark helpers: %v\n%s", err, out)
			return
		}
		// As make build builds it: no cgo.
		cmd = exec.Command(goTool(), "build", "-o", binDir+string(filepath.Separator), "github.com/byokcred/byokcred/cmd/byokcred-credential")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the key command: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

func removeBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// goTool is the go command that builds the binaries: bench/run.sh's $GO
// when it runs the compiled benchmarks, else "go", which go test resolves
// to its own toolchain (it puts that toolchain's bin first in PATH).
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// One Copilot CLI runtime per benchmark binary (~300 MB), started by the
// first benchmark that needs it.
var (
	rtOnce sync.Once
	rt     *copilotcli.Runtime
	rtErr  error
)

func copilotRuntime(tb testing.TB) *copilotcli.Runtime {
	tb.Helper()
	rtOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rt, rtErr = copilotcli.Start(ctx, copilotcli.Options{})
	})
	if rtErr != nil {
		tb.Fatalf("starting the Copilot runtime (run `make deps`): %v", rtErr)
	}
	return rt
}

func stopRuntime() {
	if rt != nil {
		rt.Close()
	}
}
