// Package deploy_test checks what can be checked of the container image and
// the manifests without a container runtime: the Dockerfile agrees with
// go.mod and the Makefile, the binary built as the Dockerfile builds it is
// static and serves its probes as uid 65532 on a read-only root, and the
// manifests and alert rules use what byokcred serves.
package deploy_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// root is the repository root, from this package's directory.
const root = ".."

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goVersion is go.mod's go line.
func goVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(read(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return m[1]
}

// dockerStage is one FROM … stage of the Dockerfile, its instructions with
// continuation lines joined.
type dockerStage struct {
	from  string
	lines []string
}

func dockerfile(t *testing.T) (args map[string]string, stages []dockerStage) {
	t.Helper()
	text := strings.ReplaceAll(read(t, "Dockerfile"), "\\\n", " ")
	args = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "FROM "):
			stages = append(stages, dockerStage{from: strings.Fields(line)[1]})
		case len(stages) == 0 && strings.HasPrefix(line, "ARG "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "ARG "), "=")
			args[k] = v
		case len(stages) > 0:
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, strings.Join(strings.Fields(line), " "))
		}
	}
	return args, stages
}

// TestDockerfileAgreesWithTheModule: the build stage uses go.mod's Go
// version (also what `make image` passes), builds ./cmd/byokcred and its key
// command ./cmd/byokcred-credential static (CGO_ENABLED=0), -trimpath,
// through the module proxy only; the final stage is distroless static (no
// shell) or scratch, as uid 65532, with byokcred as its entrypoint and byokcred-credential next to it (where
// copilot-env finds it); the build context leaves out .git, .tools and
// bin.
func TestDockerfileAgreesWithTheModule(t *testing.T) {
	t.Parallel()
	args, stages := dockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages; want 2 (build, final)", len(stages))
	}
	build, final := stages[0], stages[1]
	has := func(s dockerStage, sub string) bool {
		return slices.ContainsFunc(s.lines, func(l string) bool { return strings.Contains(l, sub) })
	}
	type facts struct {
		GoVersion, BuildFrom, FinalFrom, User, Entrypoint string
		Static, Trimpath, ModuleProxyOnly, LocalToolchain bool
		BuildsCmd, BuildsKeyCommand, VersionStamped       bool
		FinalRuns                                         bool
	}
	got := facts{
		GoVersion:        args["GO_VERSION"],
		BuildFrom:        build.from,
		FinalFrom:        final.from,
		Static:           has(build, "CGO_ENABLED=0"),
		Trimpath:         has(build, "go build -trimpath"),
		ModuleProxyOnly:  has(build, "GOFLAGS=-mod=mod"),
		LocalToolchain:   has(build, "GOTOOLCHAIN=local"),
		BuildsCmd:        has(build, "-o /out/byokcred ./cmd/byokcred"),
		BuildsKeyCommand: has(build, "go build -trimpath -ldflags=\"-s -w\" -o /out/byokcred-credential ./cmd/byokcred-credential"),
		VersionStamped:   has(build, "-X github.com/byokcred/byokcred/internal/cli.Version=${VERSION}"),
		FinalRuns:        has(final, "RUN "),
	}
	for _, l := range final.lines {
		if v, ok := strings.CutPrefix(l, "USER "); ok {
			got.User = v
		}
		if v, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
			got.Entrypoint = v
		}
	}
	want := facts{
		GoVersion: goVersion(t), BuildFrom: "golang:${GO_VERSION}-bookworm", FinalFrom: "gcr.io/distroless/static-debian12:nonroot",
		User: "65532:65532", Entrypoint: `["/usr/local/bin/byokcred"]`,
		Static: true, Trimpath: true, ModuleProxyOnly: true, LocalToolchain: true, BuildsCmd: true, BuildsKeyCommand: true, VersionStamped: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dockerfile (-want +got):\n%s", diff)
	}
	// The binaries the build stage writes are the ones the final stage
	// copies, side by side (byokcred-credential runs the byokcred next to
	// it for everything but the agent's answer).
	for _, name := range []string{"byokcred", "byokcred-credential"} {
		if !has(final, "COPY --from=build /out/"+name+" /usr/local/bin/"+name) {
			t.Errorf("the final stage does not copy /out/%s to /usr/local/bin/%s", name, name)
		}
	}
	// The Makefile builds the key command static too: the image's is the
	// binary the Makefile's build makes.
	if !regexp.MustCompile(`(?m)^bin/byokcred-credential:.*\n\tCGO_ENABLED=0 \$\(GO\) build -o \$@ \./cmd/byokcred-credential$`).MatchString(read(t, "Makefile")) {
		t.Error("the Makefile does not build bin/byokcred-credential with CGO_ENABLED=0, as the Dockerfile does")
	}
	// The Makefile's image target passes go.mod's version and builds this
	// Dockerfile.
	mk := read(t, "Makefile")
	if !regexp.MustCompile(`(?m)^image:\n\tdocker build --build-arg GO_VERSION=\$\$\(sed -n 's/\^go //p' go.mod\) .* \.$`).MatchString(mk) {
		t.Error("the Makefile has no image target running docker build with GO_VERSION from go.mod")
	}
	ignored := strings.Fields(read(t, ".dockerignore"))
	for _, p := range []string{".git", ".tools", "bin"} {
		if !slices.Contains(ignored, p) {
			t.Errorf(".dockerignore does not leave out %s", p)
		}
	}
}

// TestImageBinaryIsStatic builds cmd/byokcred and cmd/byokcred-credential
// as the Dockerfile does (CGO_ENABLED=0; -trimpath and -ldflags change no
// linking, and are left out so that the build shares the test cache's
// packages) and checks that neither needs an ELF interpreter or a shared
// library: they run on distroless/static. As root, it then runs the binary as uid 65532 on a
// read-only root filesystem (a mount namespace of its own), as the
// manifests do, and probes its admin address.
func TestImageBinaryIsStatic(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "byokcred-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "byokcred")
	// The key command ships next to byokcred and must be as static.
	for _, name := range []string{"byokcred", "byokcred-credential"} {
		checkStatic(t, filepath.Join(dir, name), "./cmd/"+name)
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: running it as uid 65532 on a read-only root needs root (unshare, setpriv)")
	}
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: not run as uid 65532 on a read-only root", tool)
		}
	}
	// uid 65532 must reach the binary and the config.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "byokcred.yaml")
	if err := os.WriteFile(cfg, []byte("providers:\n  oai: {type: openai, base_url: https://api.example.com/v1, model: m, auth: {type: static, api_key_env: OAI_KEY}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command("unshare", "-m", "--", "sh", "-c",
		`mount --make-rprivate / && mount -o remount,bind,ro / && exec setpriv --reuid 65532 --regid 65532 --clear-groups "$@"`, "sh",
		bin, "-c", cfg, "proxy", "--listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	run.Env = []string{"OAI_KEY=sk-image-test-0123456789", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
	stderr, err := run.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		run.Process.Signal(syscall.SIGTERM)
		run.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	adminLine := regexp.MustCompile(`admin on (http://\S+) `)
	var admin string
	var seen []string
	timeout := time.After(30 * time.Second)
	for admin == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the binary exited before serving its admin address:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := adminLine.FindStringSubmatch(l); m != nil {
				admin = m[1]
			}
		case <-timeout:
			t.Fatalf("no admin address after 30s:\n%s", strings.Join(seen, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s as uid 65532 on a read-only root: %d", path, resp.StatusCode)
		}
	}
	// The process really is uid 65532 (setpriv could have been a no-op).
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(run.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(status); m == nil || string(m[1]) != "65532" {
		t.Errorf("the proxy runs as uid %s; want 65532", m)
	}
}

// checkStatic builds pkg with CGO_ENABLED=0 to bin and checks that it needs
// no ELF interpreter and no shared library.
func checkStatic(t *testing.T, bin, pkg string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build %s: %v\n%s", pkg, err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var interp []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			interp = append(interp, string(bytes.TrimRight(b, "\x00")))
		}
	}
	libs, _ := f.ImportedLibraries()
	if diff := cmp.Diff([]string(nil), append(interp, libs...)); diff != "" {
		t.Errorf("%s, as the image builds it, is not static: interpreter and libraries (-want +got):\n%s", pkg, diff)
	}
}

// manifestDocs returns the documents of a multi-document YAML file.
func manifestDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(read(t, path)))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// get walks m along keys (map keys, or list indexes as ints).
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestManifestRunsTheImageSafely: the Deployment runs as uid 65532,
// non-root, read-only root filesystem, no privilege escalation; it serves
// the admin address, probes /readyz and /healthz there, and logs JSON at
// info (the audit lines); the Service does not expose the admin port.
func TestManifestRunsTheImageSafely(t *testing.T) {
	t.Parallel()
	var deployment, service map[string]any
	for _, d := range manifestDocs(t, "deploy/kubernetes/byokcred-proxy.yaml") {
		switch d["kind"] {
		case "Deployment":
			deployment = d
		case "Service":
			service = d
		}
	}
	pod := get(deployment, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	var adminPort any
	for _, p := range get(c, "ports").([]any) {
		if get(p, "name") == "admin" {
			adminPort = get(p, "containerPort")
		}
	}
	type facts struct {
		RunAsUser, RunAsNonRoot, ReadOnlyRoot, Escalation any
		AdminPort                                         any
		Readiness, Liveness                               any
		Args                                              []string
	}
	var args []string
	for _, a := range get(c, "args").([]any) {
		if s := a.(string); strings.HasPrefix(s, "--admin-addr") || strings.HasPrefix(s, "--log-") {
			args = append(args, s)
		}
	}
	got := facts{
		RunAsUser: get(pod, "securityContext", "runAsUser"), RunAsNonRoot: get(pod, "securityContext", "runAsNonRoot"),
		ReadOnlyRoot: get(c, "securityContext", "readOnlyRootFilesystem"), Escalation: get(c, "securityContext", "allowPrivilegeEscalation"),
		AdminPort: adminPort,
		Readiness: get(c, "readinessProbe", "httpGet"), Liveness: get(c, "livenessProbe", "httpGet"),
		Args: args,
	}
	want := facts{
		RunAsUser: 65532, RunAsNonRoot: true, ReadOnlyRoot: true, Escalation: false,
		AdminPort: 9090,
		Readiness: map[string]any{"path": "/readyz", "port": "admin"}, Liveness: map[string]any{"path": "/healthz", "port": "admin"},
		Args: []string{"--admin-addr=0.0.0.0:9090", "--log-format=json", "--log-level=info"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployment (-want +got):\n%s", diff)
	}
	for _, p := range get(service, "spec", "ports").([]any) {
		if get(p, "targetPort") == "admin" || get(p, "targetPort") == 9090 {
			t.Error("the Service exposes the admin port")
		}
	}
}

// exported are the metric names the admin address serves that alert rules
// may use (internal/admin's TestMetricsCountAScriptedRun scrapes each).
var exported = []string{
	"byokcred_provider_ready",
	"byokcred_token_expiry_seconds",
	"byokcred_token_fetches_total",
	"byokcred_token_fetch_failures_total",
	"byokcred_proxy_replays_total",
	"byokcred_proxy_replay_memory_bytes",
	"byokcred_peruser_users",
	"byokcred_peruser_evictions_total",
	"http_server_request_duration_seconds_count",
	"http_client_request_duration_seconds_count",
}

// TestAlertRules: the example alert rules parse, each has an expression,
// a duration and a severity, and they use only metrics byokcred exports:
// the token expiring during an outage, readiness failing, fetch failures.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
			}
		}
	}
	if err := yaml.Unmarshal([]byte(read(t, "deploy/prometheus/byokcred-alerts.yaml")), &file); err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`\b(?:byokcred|http)_[a-z_]+\b`)
	var alerts []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Expr == "" || r.For == "" || r.Labels["severity"] == "" {
				t.Errorf("%s: expr %q, for %q, severity %q: want all three", r.Alert, r.Expr, r.For, r.Labels["severity"])
			}
			for _, name := range metric.FindAllString(r.Expr, -1) {
				if !slices.Contains(exported, name) {
					t.Errorf("%s uses %s, which byokcred does not export", r.Alert, name)
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"ByokcredTokenExpiringDuringOutage", "ByokcredNotReady", "ByokcredTokenFetchFailures"}, alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}
