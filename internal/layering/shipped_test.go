package layering

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// productionInternals are the internal packages the shipped binary may
// link: every other internal package is test support (fakes, fixtures,
// test helpers), so a new one is caught until it is listed here.
var productionInternals = []string{
	"internal/admin",
	"internal/agent",
	"internal/cli",
	"internal/closest",
	"internal/credshape",
	"internal/kindhost",
	"internal/lazyre",
	"internal/scrub",
	"internal/storelimit",
	"internal/unknownkind",
	"plugins/internal/redact",
	"plugins/internal/wire",
}

// testKit holds every package that exists only for tests (fakes, fixtures,
// test helpers), so that internal/ shows the production internals alone.
const testKit = "internal/testkit/"

// selfTests are packages of tests only (their non-test file is a doc
// comment): they sit in internal/ beside what they test, not in testKit.
var selfTests = []string{"internal/layering", "internal/readmetest"}

// publicTestKits are test support for the library's users, as
// testing/fstest is for fs authors: public API, so not under testKit, and
// still never linked into the shipped binary.
var publicTestKits = []string{"kindtest"}

// testSupportName reports whether pkg exists for tests: anything under
// testKit, and wherever it sits, a package named like a fake, a hook that
// switches production paths, a test kit or helper.
func testSupportName(pkg string) bool {
	if strings.HasPrefix(pkg, testKit) {
		return true
	}
	base := path.Base(pkg)
	return strings.HasPrefix(base, "fake") || strings.Contains(base, "hook") || strings.Contains(base, "test") ||
		slices.Contains([]string{"syncbuf", "gatedauth"}, base)
}

// testOnly reports why pkg (a path inside the module) must not be linked
// into the shipped binary, or "".
func testOnly(pkg string) string {
	switch {
	case testSupportName(pkg):
		return "a fake, hook or test-support package"
	case (strings.HasPrefix(pkg, "internal/") || strings.Contains(pkg, "/internal/")) && !slices.Contains(productionInternals, pkg):
		return "an internal package that is not a production internal (productionInternals)"
	}
	return ""
}

// TestShippedBinaryLinksNothingTestOnly: `go list -deps ./cmd/byokcred`
// shows no fake, hook or test-support package, and no internal package
// outside productionInternals. Tests swap I/O through options
// (registry.Options.HTTPClient), never through a package the binary links.
func TestShippedBinaryLinksNothingTestOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	var bad []string
	for _, dep := range goList(t, "-deps", module+"cmd/byokcred") {
		pkg, ok := strings.CutPrefix(dep, module)
		if !ok {
			continue
		}
		if why := testOnly(pkg); why != "" {
			bad = append(bad, pkg+": "+why)
		}
	}
	if diff := cmp.Diff([]string(nil), bad); diff != "" {
		t.Errorf("cmd/byokcred links test-only packages (-want +got):\n%s", diff)
	}
}

// TestTestOnlyRuleKnowsEveryInternal keeps the rule above honest: every
// internal package of the module is either a production internal or
// classed as test-only, and the allowlist names only packages that exist
// and are not test support.
func TestTestOnlyRuleKnowsEveryInternal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	all := map[string]bool{}
	for _, dep := range goList(t, module+"...") {
		pkg, _ := strings.CutPrefix(dep, module)
		all[pkg] = true
	}
	var wrong []string
	for _, pkg := range productionInternals {
		switch {
		case !all[pkg]:
			wrong = append(wrong, pkg+": listed in productionInternals but does not exist")
		case testSupportName(pkg):
			wrong = append(wrong, pkg+": listed in productionInternals but named as test support")
		}
	}
	// The packages that exist only for tests today must be caught.
	for _, pkg := range []string{"internal/testkit/fakeentra", "internal/testkit/fakekeyvault", "internal/testkit/fakestores", "internal/testkit/fakehosts",
		"internal/testkit/configtest", "internal/testkit/plugintest", "internal/testkit/storetest", "internal/testkit/syncbuf", "internal/testkit/gatedauth"} {
		if all[pkg] && testOnly(pkg) == "" {
			wrong = append(wrong, pkg+": test support not caught by the rule")
		}
	}
	if diff := cmp.Diff([]string(nil), wrong); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestTestSupportLivesInTestKit: a package named as test support sits under
// internal/testkit/, so internal/ lists production internals only (and the
// packages that are themselves tests).
func TestTestSupportLivesInTestKit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	var pkgs []string
	for _, dep := range goList(t, module+"...") {
		pkg, _ := strings.CutPrefix(dep, module)
		pkgs = append(pkgs, pkg)
	}
	if diff := cmp.Diff([]string(nil), misplacedTestSupport(pkgs)); diff != "" {
		t.Errorf("test-support packages outside %s; move them there (-want +got):\n%s", testKit, diff)
	}
}

// misplacedTestSupport lists the packages of pkgs named as test support
// that are neither under testKit nor tests themselves.
func misplacedTestSupport(pkgs []string) []string {
	var out []string
	for _, pkg := range pkgs {
		if testSupportName(pkg) && !strings.HasPrefix(pkg, testKit) && !slices.Contains(selfTests, pkg) && !slices.Contains(publicTestKits, pkg) {
			out = append(out, pkg)
		}
	}
	return out
}

func TestMisplacedTestSupport(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkgs []string
		want []string
	}{
		{"today's layout", []string{"internal/agent", "internal/testkit/fakeaws", "internal/testkit/syncbuf", "internal/layering", "internal/readmetest", "kindtest"}, nil},
		{"a fake beside the production internals", []string{"internal/fakenew", "internal/testkit/fakeaws"}, []string{"internal/fakenew"}},
		{"a test kit in a public package's tree", []string{"registry/registrytest", "auth/aws/fakests"}, []string{"registry/registrytest", "auth/aws/fakests"}},
		{"a hook", []string{"internal/entrahook"}, []string{"internal/entrahook"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, misplacedTestSupport(tc.pkgs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}
