package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// hostileValues are what an attacker who controls a config value (or the
// directory the binary or config sits in) would try against
// `eval "$(byokcred copilot-env)"`. Each one that runs a command creates a
// file named pwned* in the shell's working directory.
var hostileValues = []struct{ name, v string }{
	{"newline then a command", "2024-10-21\ntouch pwned-nl #"},
	{"command substitution", "$(touch pwned-cs)"},
	{"backticks", "`touch pwned-bt`"},
	{"single quotes", "a'b'; touch pwned-sq; echo '"},
	{"double quotes", `a"b"; touch pwned-dq; echo "`},
	{"backslashes", `a\'; touch pwned-bs; \`},
	{"semicolon", "a; touch pwned-semi"},
	{"carriage return", "a\rtouch pwned-cr\r"},
	{"control characters", "a\x01\x02\x1b[2J\x7f\x1fb\t"},
	{"unicode", "ünï\u200bcødé\u2028\u00a0\u202e"},
	{"parameter expansion", "${HOME}$HOME${IFS}"},
	{"trailing newlines", "x\n\n"},
	{"glob", "*"},
}

// evalShells are the shells copilot-env's output is for: bash, dash (a
// strict POSIX sh) and zsh in sh emulation. In CI every one must be
// installed (.ci/run installs zsh).
var evalShells = []struct {
	name string
	argv []string
}{
	{"bash", []string{"bash", "-c"}},
	{"dash", []string{"dash", "-c"}},
	{"zsh", []string{"zsh", "--emulate", "sh", "-c"}},
}

// evalCopilotEnv evaluates out as the README says, eval "$(…)", in each
// shell with the extra environment vars, in an empty working directory. It
// fails the test if a command ran (a file appeared there), and returns, per
// shell, the exported variables afterwards, byte for byte (env -0).
func evalCopilotEnv(t *testing.T, out string, vars map[string]string) map[string]map[string]string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "out.sh")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, sh := range evalShells {
		if _, err := exec.LookPath(sh.argv[0]); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI must run every shell (.ci/run installs them)", sh.name)
			}
			t.Logf("%s is not installed: not evaluated there", sh.name)
			continue
		}
		work := t.TempDir()
		dump := filepath.Join(dir, sh.name+".env")
		script := `eval "$(cat "$1")" && env -0 >"$2"`
		cmd := exec.Command(sh.argv[0], append(sh.argv[1:], script, sh.name, file, dump)...)
		cmd.Dir = work
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "COPILOT_PROVIDER_API_KEY=left-over"}
		for k, v := range vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s\noutput evaluated:\n%s", sh.name, err, msg, out)
			continue
		}
		if entries, _ := os.ReadDir(work); len(entries) > 0 {
			t.Errorf("%s ran a command from copilot-env's output: %s appeared\noutput evaluated:\n%s", sh.name, entries[0].Name(), out)
		}
		data, err := os.ReadFile(dump)
		if err != nil {
			t.Fatal(err)
		}
		exported := map[string]string{}
		for _, kv := range bytes.Split(data, []byte{0}) {
			if k, v, ok := strings.Cut(string(kv), "="); ok && strings.HasPrefix(k, "COPILOT_") {
				exported[k] = v
			}
		}
		got[sh.name] = exported
	}
	return got
}

// TestCopilotEnvOutputIsInert is finding 1 of issue 23 at the printer:
// whatever a provider, the helper's path or the agent brings, every byte
// copilot-env prints is quoted or inert, in bash, dash and zsh, and the
// variables hold exactly the values meant. Values the loader refuses
// (api_version with a newline, a model with a control character) are fed
// in directly: the printer must hold without the loader.
func TestCopilotEnvOutputIsInert(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	type field struct {
		name string
		set  func(p *config.Provider, m *config.Model, helper []string, payload string) ([]string, credential.Kind)
	}
	fields := []field{
		{"provider name", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Name = v
			return append(h, v), credential.KindAPIKey
		}},
		{"type", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Type = v
			return h, credential.KindAPIKey
		}},
		{"base_url", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.BaseURL = "https://h.example/" + v
			return h, credential.KindAPIKey
		}},
		{"model", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Model = v
			return h, credential.KindAPIKey
		}},
		{"wire_model", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.WireModel = v
			return h, credential.KindAPIKey
		}},
		{"models[].wire_model", func(_ *config.Provider, m *config.Model, h []string, v string) ([]string, credential.Kind) {
			m.WireModel = v
			return h, credential.KindAPIKey
		}},
		{"wire_api", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.WireAPI = v
			return h, credential.KindAPIKey
		}},
		{"api_version, exported", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Type, p.APIVersion = config.TypeAzure, v
			return h, credential.KindAPIKey
		}},
		{"api_version, in the note (the reported case)", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Type, p.APIVersion = config.TypeAzure, v
			return h, credential.KindBearer
		}},
		{"header value", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Headers = map[string]string{"X-A": v, "X-B": "b"}
			return h, credential.KindAPIKey
		}},
		{"header name", func(p *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			p.Headers = map[string]string{v: "1"}
			return h, credential.KindAPIKey
		}},
		{"executable path", func(_ *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			h[0] = "/opt/" + v + "/byokcred"
			return h, credential.KindAPIKey
		}},
		{"config path", func(_ *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			h[2] = "/etc/" + v + ".yaml"
			return h, credential.KindAPIKey
		}},
		{"socket", func(_ *config.Provider, _ *config.Model, h []string, v string) ([]string, credential.Kind) {
			return append(h, "--socket", v), credential.KindAPIKey
		}},
	}
	for _, f := range fields {
		for _, hv := range hostileValues {
			t.Run(f.name+"/"+hv.name, func(t *testing.T) {
				p := &config.Provider{Name: "p", Type: config.TypeOpenAI, BaseURL: "https://h.example/v1", Model: "gpt-4.1"}
				m := &config.Model{ID: "gpt-4.1", Provider: "p"}
				helper := []string{"/usr/bin/byokcred", "-c", "/etc/b.yaml", "credential", "--agent", "auto"}
				helper, kind := f.set(p, m, helper, hv.v)
				if f.name != "provider name" {
					helper = append(helper, p.Name)
				}
				cfg := &config.Config{Providers: map[string]*config.Provider{p.Name: p}, Models: []*config.Model{m}}
				m.Provider = p.Name
				env, spans, notes, err := copilotEnv(&registry.Provider{Provider: p}, cfg, kind, helper)
				if strings.HasPrefix(f.name, "header") && strings.ContainsAny(hv.v, "\r\n") {
					// One header per line: a line break cannot be expressed.
					if err == nil {
						t.Fatalf("copilotEnv accepted a header with a line break: %q", env["COPILOT_PROVIDER_HEADERS"])
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var out strings.Builder
				if err := writeCopilotEnv(&out, p.Name, env, spans, notes); err != nil {
					t.Fatal(err)
				}
				comment, _, _ := strings.Cut(out.String(), "\n")
				if !strings.HasPrefix(comment, "# byokcred copilot-env ") || strings.ContainsFunc(comment, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Errorf("comment line is not one inert line: %q", comment)
				}
				for shell, got := range evalCopilotEnv(t, out.String(), nil) {
					if diff := cmp.Diff(env, got); diff != "" {
						t.Errorf("%s: exported variables differ from those meant (-want +got):\n%s", shell, diff)
					}
				}
			})
		}
	}
}

// TestCopilotEnvVariablesStayVariables: parts of base_url and of header
// values that came from ${VAR} are printed as "${VAR}" for the shell to
// expand (finding 8: a ?code=${FN_CODE} was printed), whatever the
// variable holds, and the shell gets the value byte for byte.
func TestCopilotEnvVariablesStayVariables(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	for _, hv := range hostileValues {
		t.Run(hv.name, func(t *testing.T) {
			secret := "CANARY-" + hv.v
			vars := map[string]string{"FN_CODE": secret, "GW": secret, "AZ": "https://r.openai.azure.example/"}
			cfg, _ := config.Parse("b.yaml", []byte(`providers:
  p:
    type: openai
    base_url: https://fn.example/api/${GW}/x;sig=${GW}?code=${FN_CODE}
    model: gpt-4.1
    headers: {X-Gw: "k=${GW};", X-Static: s}
    auth: {type: static, api_key: x}
  az:
    type: azure
    base_url: ${AZ}
    model: gpt-4.1
    auth: {type: static, api_key: x}
`), func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
			if cfg == nil || cfg.Providers["p"] == nil {
				t.Fatal("config did not decode")
			}
			helper := []string{"/usr/bin/byokcred", "-c", "/etc/b.yaml", "credential", "--agent", "auto", "p"}
			for _, tc := range []struct {
				name string
				kind credential.Kind
			}{{"p", credential.KindAPIKey}, {"az", credential.KindBearer}} {
				p := cfg.Providers[tc.name]
				env, spans, notes, err := copilotEnv(&registry.Provider{Provider: p}, cfg, tc.kind, helper)
				if err != nil {
					if strings.ContainsAny(hv.v, "\r\n") {
						continue // a header with a line break is refused
					}
					t.Fatal(err)
				}
				var out strings.Builder
				if err := writeCopilotEnv(&out, p.Name, env, spans, notes); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(out.String(), "CANARY") || strings.Contains(out.String(), "azure.example") {
					t.Errorf("a variable's value was printed:\n%s", out.String())
				}
				for shell, got := range evalCopilotEnv(t, out.String(), vars) {
					if diff := cmp.Diff(env, got); diff != "" {
						t.Errorf("%s: %s: exported variables differ (-want +got):\n%s\noutput:\n%s", shell, tc.name, diff, out.String())
					}
				}
			}
		})
	}
}

// TestCopilotEnvCommandIsInert runs the real binary from a directory whose
// name is hostile, with a hostile config path and --socket and the hostile
// values the loader accepts in model, wire_model and headers: eval in
// bash, dash and zsh runs nothing and exports exactly what was meant.
func TestCopilotEnvCommandIsInert(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	bin := byokcredBinary(t)
	evil := "d$(touch pwned-dir)`touch pwned-bt`'\"\\;\n\r\x01é"
	binDir := filepath.Join(t.TempDir(), evil)
	cfgDir := filepath.Join(t.TempDir(), evil)
	for _, d := range []string{binDir, cfgDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(binDir, "byokcred")
	if err := os.Link(bin, exe); err != nil {
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, data, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// model and wire_model expand ${VAR}: the file writes each $ as $$.
	model := "m$(touch${IFS}pwned-m)`touch${IFS}pwned-m2`;'\"\\ü"
	cfg := filepath.Join(cfgDir, "b'$(x).yaml")
	if err := os.WriteFile(cfg, []byte(`providers:
  p:
    type: azure
    base_url: https://r.openai.azure.example/${AZ_PATH}
    api_version: 2025-04-01-preview
    model: '`+strings.ReplaceAll(strings.ReplaceAll(model, "$", "$$"), "'", "''")+`'
    wire_model: 'w`+"`touch$${IFS}pwned-w`"+`'
    headers:
      X-Gw: "${GW_KEY}"
      X-Team: 'a $(touch pwned-h) ''team'' "b" \ c'
    auth: {type: static, api_key_env: KEY}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := "CANARY-gw $(touch pwned-gw) `touch pwned-gw2` ' \" \\ ;"
	socket := filepath.Join(t.TempDir(), evil, "agent.sock")
	vars := map[string]string{"GW_KEY": gw, "AZ_PATH": "deploy$(touch${IFS}pwned-u)`touch${IFS}pwned-u2`", "KEY": "CANARY-key"}
	cmd := exec.CommandContext(context.Background(), exe, "-c", cfg, "copilot-env", "--agent", "off", "--socket", socket, "p")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("copilot-env: %v\n%s", err, stderr.String())
	}
	if bytes.Contains(out, []byte("CANARY")) {
		t.Fatalf("copilot-env printed a secret:\n%s", out)
	}
	want := map[string]string{
		"COPILOT_PROVIDER_TYPE":              "azure",
		"COPILOT_PROVIDER_BASE_URL":          "https://r.openai.azure.example/" + vars["AZ_PATH"],
		"COPILOT_PROVIDER_API_KEY_COMMAND":   shellWord(exe) + " -c " + shellWord(cfg) + " credential --agent off --socket " + shellWord(socket) + " p",
		"COPILOT_PROVIDER_AZURE_API_VERSION": "2025-04-01-preview",
		"COPILOT_PROVIDER_WIRE_MODEL":        "w`touch${IFS}pwned-w`",
		"COPILOT_PROVIDER_HEADERS":           "X-Gw: " + gw + "\nX-Team: a $(touch pwned-h) 'team' \"b\" \\ c",
		"COPILOT_MODEL":                      model,
		"COPILOT_OFFLINE":                    "true",
	}
	for shell, got := range evalCopilotEnv(t, string(out), vars) {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s\noutput:\n%s", shell, diff, out)
		}
	}
}
