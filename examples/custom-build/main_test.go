package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// build compiles pkg (relative to this directory), as a team would build
// its byokcred. Each package is built once per test binary; the stock
// build is the one make test built when it names it in $BYOKCRED_TEST_BIN.
func build(t *testing.T, pkg string) string {
	t.Helper()
	if prebuilt := os.Getenv("BYOKCRED_TEST_BIN"); prebuilt != "" && pkg == "../../cmd/byokcred" {
		return prebuilt
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if bin, ok := builds.bins[pkg]; ok {
		return bin
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "byokcred-custom-build-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir = dir
	}
	bin := filepath.Join(builds.dir, strconv.Itoa(len(builds.bins)), "byokcred")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	builds.bins[pkg] = bin
	return bin
}

// builds are the binaries build made, removed by TestMain.
var builds = struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}{bins: map[string]string{}}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// runBin runs bin with args and a clean environment plus env.
func runBin(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

const gatewayConfig = `providers:
  internal:
    type: openai
    base_url: https://gw.example/v1
    model: llama
    auth: {type: gateway, token_url: https://gw.example/token, client_id: agent-1, client_secret_env: GATEWAY_SECRET}
`

func TestCustomBuildAcceptsItsAuthType(t *testing.T) {
	t.Parallel()
	custom := build(t, ".")
	stock := build(t, "../../cmd/byokcred")
	cfg := filepath.Join(t.TempDir(), "byokcred.yaml")
	if err := os.WriteFile(cfg, []byte(gatewayConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"GATEWAY_SECRET=s3cret"}
	type result struct {
		Out  string
		Code int
	}
	tests := []struct {
		name string
		bin  string
		want result
	}{
		{"custom build", custom, result{cfg + ": OK (1 provider: internal)\n", 0}},
		{"stock build", stock, result{"byokcred: " + cfg + ":6:18: providers.internal.auth.type: unknown auth type \"gateway\"", 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runBin(t, tc.bin, env, "validate", "-c", cfg)
			// The stock build's message goes on to list what it knows
			// and what to import: only its first line is compared.
			got := result{out, code}
			if tc.want.Code != 0 {
				got.Out, _, _ = strings.Cut(out, " (")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validate (-want +got):\n%s\nfull output:\n%s", diff, out)
			}
		})
	}
}

// TestCustomBuildSchema: a custom build describes its own kind's keys,
// from docs compiled in (no source tree at run time).
func TestCustomBuildSchema(t *testing.T) {
	t.Parallel()
	custom := build(t, ".")
	out, code := runBin(t, custom, nil, "schema")
	if code != 0 {
		t.Fatalf("schema: exit %d\n%s", code, out)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("schema output is not JSON: %v", err)
	}
	got := map[string]string{}
	for key, p := range s.Defs["auth_gateway"].Properties {
		got[key] = p.Description
	}
	want := map[string]string{
		"type":              "the auth type: gateway",
		"token_url":         "TokenURL is the gateway's token endpoint (https, or http to loopback).",
		"client_id":         "ClientID identifies this agent to the gateway.",
		"client_secret_env": "ClientSecretEnv names the environment variable holding the secret.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("auth_gateway properties (-want +got):\n%s", diff)
	}
}

// TestCustomBuildHasTheStockKindsAndStores: the custom build accepts every
// auth type and secret store the stock byokcred accepts, plus its own kind,
// as the schema each binary prints says.
func TestCustomBuildHasTheStockKindsAndStores(t *testing.T) {
	t.Parallel()
	type accepts struct {
		AuthTypes []string
		Stores    []string
	}
	schemaOf := func(bin string) accepts {
		out, code := runBin(t, bin, nil, "schema")
		if code != 0 {
			t.Fatalf("%s schema: exit %d\n%s", bin, code, out)
		}
		var s struct {
			Defs map[string]json.RawMessage `json:"$defs"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("schema output is not JSON: %v", err)
		}
		var secretRef struct {
			Properties struct {
				Store struct {
					Enum []string `json:"enum"`
				} `json:"store"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(s.Defs["SecretRef"], &secretRef); err != nil {
			t.Fatalf("schema $defs.SecretRef: %v", err)
		}
		a := accepts{Stores: secretRef.Properties.Store.Enum}
		for name := range s.Defs {
			if kind, ok := strings.CutPrefix(name, "auth_"); ok {
				a.AuthTypes = append(a.AuthTypes, kind)
			}
		}
		slices.Sort(a.AuthTypes)
		return a
	}
	stock := schemaOf(build(t, "../../cmd/byokcred"))
	want := accepts{
		AuthTypes: slices.Sorted(slices.Values(append(slices.Clone(stock.AuthTypes), "gateway"))),
		Stores:    stock.Stores,
	}
	if len(stock.AuthTypes) == 0 || len(stock.Stores) == 0 {
		t.Fatalf("the stock schema lists no auth types or no stores: %+v", stock)
	}
	if diff := cmp.Diff(want, schemaOf(build(t, "."))); diff != "" {
		t.Errorf("custom build accepts (-stock plus gateway +custom):\n%s", diff)
	}
}
