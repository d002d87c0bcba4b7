package layering

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every byokcred command pays every linked package's initialisation
// before main runs: the key command before each model request, completion
// on each TAB. The bounds below are on the bytes a package allocates at
// init as GODEBUG=inittrace reports them: allocations, unlike clock time,
// do not depend on the machine's load, so the test cannot flake.
const (
	// initBytesPerPackage bounds each package of this module. A map
	// literal of a hundred short entries fits (the generated field-doc
	// table, the proxy's route tables: 1–3 KB); what this change moved out
	// of init does not: one compiled regular expression costs 3–13 KB, one
	// with a counted repetition such as {1,512} up to 450 KB, a CRC table
	// 9 KB, and an SDK client or a schema more.
	initBytesPerPackage = 8 << 10
	// initBytesModule bounds the module's packages together (~31 KB
	// today, of which the generated protobuf code is half; 1.9 MB before
	// the regular expressions were made lazy).
	initBytesModule = 48 << 10
	// initBytesKeyCommand bounds every package of the small key-command
	// binary together, the Go runtime and standard library included
	// (~9 KB today; a hello-world program allocates ~2 KB).
	initBytesKeyCommand = 16 << 10
)

// initBytesExceptions are packages of this module allowed more than
// initBytesPerPackage, each with its bound and why.
var initBytesExceptions = map[string]int{
	// protoc-gen-go's code registers the file descriptor at init, for the
	// protobuf registry (~16 KB); it is generated, not ours to make lazy.
	"plugins/proto": 32 << 10,
}

// TestNothingHeavyAtInit: the stock byokcred and the key-command binary,
// run with GODEBUG=inittrace=1, report init allocations within the bounds
// above for the module's packages, and for the key command in total.
func TestNothingHeavyAtInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	full, small := initBinaries(t)

	traces := initTrace(t, full, "--version")
	var bad []string
	module := 0
	for _, tr := range traces {
		pkg, ok := strings.CutPrefix(tr.pkg, "github.com/byokcred/byokcred/")
		if !ok {
			continue
		}
		module += tr.bytes
		bound, ok := initBytesExceptions[pkg]
		if !ok {
			bound = initBytesPerPackage
		}
		if tr.bytes > bound {
			bad = append(bad, fmt.Sprintf("%s allocates %d bytes at init, more than %d: build its tables, regular expressions (internal/lazyre) or clients on first use", pkg, tr.bytes, bound))
		}
	}
	if module > initBytesModule {
		bad = append(bad, fmt.Sprintf("the module's packages allocate %d bytes at init together, more than %d", module, initBytesModule))
	}
	t.Logf("byokcred --version: %d packages initialised, %.2f ms clock in all, the module's packages %d bytes", len(traces), clockMs(traces), module)

	// No agent, and no byokcred next to it to hand the command to: the
	// trace is the small binary's alone.
	total := 0
	for _, tr := range initTrace(t, small, "credential", "--socket", filepath.Join(t.TempDir(), "none.sock"), "--agent", "require") {
		total += tr.bytes
	}
	if total > initBytesKeyCommand {
		bad = append(bad, fmt.Sprintf("byokcred-credential allocates %d bytes at init, more than %d: it must link only the agent's client", total, initBytesKeyCommand))
	}
	if diff := cmp.Diff([]string(nil), bad); diff != "" {
		t.Errorf("work at init (-want +got):\n%s", diff)
	}
}

// initLine is one line of GODEBUG=inittrace=1's output.
var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, (\d+) bytes, (\d+) allocs$`)

type initRecord struct {
	pkg   string
	ms    float64
	bytes int
}

// initTrace runs bin with args and GODEBUG=inittrace=1 and returns its init
// records, in order.
func initTrace(t *testing.T, bin string, args ...string) []initRecord {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput() // the exit code is not the point
	var recs []initRecord
	for line := range strings.Lines(string(out)) {
		m := initLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[2], 64)
		n, _ := strconv.Atoi(m[3])
		recs = append(recs, initRecord{pkg: m[1], ms: ms, bytes: n})
	}
	if len(recs) == 0 {
		t.Fatalf("%s %v printed no init trace:\n%s", bin, args, out)
	}
	return recs
}

func clockMs(recs []initRecord) float64 {
	var ms float64
	for _, r := range recs {
		ms += r.ms
	}
	return ms
}

// initBinaries builds cmd/byokcred (or uses $BYOKCRED_TEST_BIN) and
// cmd/byokcred-credential as make build does (no cgo).
func initBinaries(t *testing.T) (full, small string) {
	t.Helper()
	dir := t.TempDir()
	full = os.Getenv("BYOKCRED_TEST_BIN")
	if full == "" {
		full = filepath.Join(dir, "byokcred")
		if out, err := exec.Command("go", "build", "-o", full, module+"cmd/byokcred").CombinedOutput(); err != nil {
			t.Fatalf("go build cmd/byokcred: %v\n%s", err, out)
		}
	}
	// A directory of its own: no byokcred next to it to hand over to.
	small = filepath.Join(dir, "small", "byokcred-credential")
	cmd := exec.Command("go", "build", "-o", small, module+"cmd/byokcred-credential")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/byokcred-credential: %v\n%s", err, out)
	}
	return full, small
}
