package layering

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// External libraries a core package may link, each with whatever it links
// itself: the rule is about what byokcred's own packages choose to link, not
// about the inside of the Copilot SDK or OpenTelemetry.
const (
	yamlLib    = "go.yaml.in/yaml/v3"
	copilotLib = "github.com/github/copilot-sdk/go"
	otelLib    = "go.opentelemetry.io/otel/metric"
	cobraLib   = "github.com/spf13/cobra"
	// promLib is the OpenTelemetry Prometheus exporter, with the OpenTelemetry
	// SDK and the Prometheus client it links: the admin address's metrics.
	promLib = "go.opentelemetry.io/otel/exporters/prometheus"
	// otlpHTTPLib and otlpGRPCLib are OpenTelemetry's OTLP metric
	// exporters, with the OTLP protobufs and gRPC they link: the metrics
	// the standard OTEL_EXPORTER_OTLP_* variables ask for.
	otlpHTTPLib = "go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otlpGRPCLib = "go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
)

// coreAllowed lists, for each core package (the contract, the config, the
// registry, the session factory, the proxy, the command line …), everything
// it may link besides the standard library: the packages of this module
// and the external libraries. It is an allowlist: a core package that
// starts to link anything else — a cloud SDK, a credential kind, the plugin
// host, a test fake, a new library — fails until its row says so. Credential
// kinds and stores, whose SDKs are the point, have their rows in
// TestImportsRunTheRightWay.
var coreAllowed = []struct {
	pkg  string
	own  []string // packages of this module, relative to it
	libs []string // external packages, with what they link
}{
	{"credential", nil, nil},
	{"secretfile", []string{"credential"}, nil},
	{"endpoint", []string{"credential"}, nil},
	{"config", []string{"credential", "endpoint"}, []string{yamlLib}},
	// The kind API: what credential kinds implement and call.
	{"kind", []string{"credential", "endpoint", "config", "internal/kindhost"}, []string{yamlLib}},
	{"registry", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "internal/unknownkind"}, []string{yamlLib}},
	{"session", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind"}, []string{yamlLib, copilotLib}},
	// The proxy does not link the Copilot SDK.
	{"proxy", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind"}, []string{yamlLib}},
	{"metrics", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind"}, []string{yamlLib, otelLib}},
	{"schema", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind"}, []string{yamlLib}},
	{"copilotcli", nil, []string{copilotLib}},
	// The command line links no credential kind: a build chooses its kinds
	// (cmd/byokcred imports package builtin).
	{"cli", cliOwn, cliLibs},
	{"internal/cli", cliOwn, cliLibs},
	{"internal/agent", []string{"credential", "secretfile"}, nil},
	// The admin address (--admin-addr) reads readiness from the registry.
	{"internal/admin", []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind"}, []string{yamlLib, promLib, otlpHTTPLib, otlpGRPCLib}},
	{"internal/scrub", []string{"credential"}, []string{copilotLib}},
	// Helpers the kinds and stores share.
	{"internal/credshape", []string{"credential"}, nil},
	{"internal/storelimit", []string{"credential", "secretfile"}, nil},
	{"internal/unknownkind", nil, nil},
	{"internal/kindhost", nil, nil},
	{"internal/lazyre", nil, nil},
	{"internal/closest", nil, nil},
}

var (
	cliOwn = []string{"credential", "endpoint", "config", "kind", "internal/kindhost", "registry", "internal/unknownkind", "secretfile", "session",
		"copilotcli", "proxy", "schema", "internal/agent", "internal/scrub", "internal/cli", "internal/admin", "metrics"}
	cliLibs = []string{yamlLib, copilotLib, cobraLib, promLib, otlpHTTPLib, otlpGRPCLib}
)

// anyMayLink are packages of this module that every package may link, as
// it may the standard library: helpers that link nothing of the module
// themselves (their own row says so).
var anyMayLink = []string{"internal/lazyre", "internal/closest"}

const thisModule = "github.com/byokcred/byokcred"

// dep is one package a package links: its import path and its module.
type dep struct{ pkg, module string }

// deps lists what pkg links outside the standard library (itself included).
func deps(t *testing.T, pkg string) []dep {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f",
		"{{if not .Standard}}{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var ds []dep
	for line := range strings.Lines(string(out)) {
		p, m, _ := strings.Cut(strings.TrimSpace(line), " ")
		if p != "" {
			ds = append(ds, dep{p, m})
		}
	}
	return ds
}

var (
	libModulesOnce sync.Once
	libModules     = map[string][]string{} // external package → the modules it links
)

// modulesOf returns the modules lib links, itself included.
func modulesOf(t *testing.T, lib string) []string {
	t.Helper()
	libModulesOnce.Do(func() {
		for _, l := range []string{yamlLib, copilotLib, otelLib, cobraLib, promLib, otlpHTTPLib, otlpGRPCLib} {
			var ms []string
			for _, d := range deps(t, l) {
				ms = append(ms, d.module)
			}
			slices.Sort(ms)
			libModules[l] = slices.Compact(ms)
		}
	})
	ms, ok := libModules[lib]
	if !ok {
		t.Fatalf("library %s has no entry in modulesOf", lib)
	}
	return ms
}

// notAllowed returns the packages among ds that pkg may not link: a package
// of this module not in own (nor pkg itself), or a package of a module that
// none of allowedModules is.
func notAllowed(pkg string, ds []dep, own, allowedModules []string) []string {
	var bad []string
	for _, d := range ds {
		if d.module == thisModule {
			if rel := strings.TrimPrefix(d.pkg, module); rel != pkg && !slices.Contains(own, rel) {
				bad = append(bad, d.pkg)
			}
			continue
		}
		if !slices.Contains(allowedModules, d.module) {
			bad = append(bad, d.pkg)
		}
	}
	return bad
}

func TestCorePackagesLinkOnlyWhatTheyMay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, row := range coreAllowed {
		t.Run(row.pkg, func(t *testing.T) {
			var modules []string
			for _, l := range row.libs {
				modules = append(modules, modulesOf(t, l)...)
			}
			bad := notAllowed(row.pkg, deps(t, module+row.pkg), append(slices.Clone(row.own), anyMayLink...), modules)
			if diff := cmp.Diff([]string(nil), bad); diff != "" {
				t.Errorf("%s links what its row in coreAllowed does not allow (-want +got):\n%s", row.pkg, diff)
			}
		})
	}
}

// TestNotAllowed pins the rule on made-up dependency lists, among them the
// ones the denylist this allowlist replaced let through.
func TestNotAllowed(t *testing.T) {
	registryOwn := []string{"credential", "config"}
	yamlOnly := []string{"go.yaml.in/yaml/v3"}
	tests := []struct {
		name string
		deps []dep
		want []string
	}{
		{"only what the row names", []dep{
			{module + "credential", thisModule},
			{module + "config", thisModule},
			{module + "registry", thisModule},
			{"go.yaml.in/yaml/v3", "go.yaml.in/yaml/v3"},
		}, nil},
		{"a new cloud SDK", []dep{
			{module + "registry", thisModule},
			{"github.com/newcloud/sdk-go/credentials", "github.com/newcloud/sdk-go"},
		}, []string{"github.com/newcloud/sdk-go/credentials"}},
		{"a new package of this module", []dep{
			{module + "registry", thisModule},
			{module + "internal/newhook", thisModule},
		}, []string{module + "internal/newhook"}},
		{"a credential kind", []dep{
			{module + "auth/static", thisModule},
			{module + "registry", thisModule},
		}, []string{module + "auth/static"}},
		{"a package of an allowed library's module under another module", []dep{
			{"go.yaml.in/yaml/v4", "go.yaml.in/yaml/v4"},
		}, []string{"go.yaml.in/yaml/v4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, notAllowed("registry", tc.deps, registryOwn, yamlOnly)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
