package schema

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/internal/fielddoc"
	"github.com/byokcred/byokcred/kind"

	// The schema covers the built-in auth types and stores, as the CLI
	// registers them.
	_ "github.com/byokcred/byokcred/builtin"
)

var update = flag.Bool("update", false, "rewrite ../byokcred.schema.json")

const file = "../byokcred.schema.json"

// TestSchemaIsCurrent fails when the committed schema drifts from the Go
// types; `make schema` (go test ./schema -update) regenerates it.
func TestSchemaIsCurrent(t *testing.T) {
	got, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("byokcred.schema.json is stale; run `make schema` (-committed +generated):\n%s", diff)
	}
}

// TestFieldDocsAreCurrent fails when a doc comment changed without
// `go generate` (make schema): the compiled-in docs are what `byokcred
// schema` describes keys with.
func TestFieldDocsAreCurrent(t *testing.T) {
	tests := []struct {
		name, dir string
		compiled  map[string]string
	}{
		{"config", "../config", configDocs},
	}
	// Every registered kind and store with compiled-in docs, so that none
	// is left out of the check (aws and gcp were, when it was a list).
	var registered []any
	for _, name := range kind.Types() {
		a, _ := kind.New(name)
		registered = append(registered, a)
	}
	for _, name := range kind.Stores() {
		s, _ := kind.NewStore(name)
		registered = append(registered, s)
	}
	for _, r := range registered {
		d, ok := r.(kind.FieldDocumenter)
		if !ok {
			continue
		}
		pkg := reflect.TypeOf(r).Elem().PkgPath()
		rel, ok := strings.CutPrefix(pkg, "github.com/byokcred/byokcred/")
		if !ok {
			t.Fatalf("%T: package %s is outside this module", r, pkg)
		}
		tests = append(tests, struct {
			name, dir string
			compiled  map[string]string
		}{rel, "../" + rel, d.FieldDocs()})
	}
	if got := len(tests) - 1; got < 8 {
		t.Fatalf("%d registered kinds and stores carry field docs, want every built-in one (5 kinds, 3 stores)", got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := fielddoc.Read(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(src, tc.compiled); diff != "" {
				t.Errorf("%s: generated field docs are stale; run `make schema` (-source +compiled):\n%s", tc.dir, diff)
			}
		})
	}
}

// TestEveryKeyHasADescription walks the committed schema: an editor shows
// each key's description, so a config field without a doc comment fails.
func TestEveryKeyHasADescription(t *testing.T) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for key, p := range props {
				pm, _ := p.(map[string]any)
				_, hasConst := pm["const"] // the auth type's discriminator in each branch
				if _, ok := pm["description"]; !ok && !hasConst {
					missing = append(missing, path+"."+key)
				}
			}
		}
		for k, sub := range m {
			switch sub := sub.(type) {
			case map[string]any:
				walk(path+"/"+k, sub)
			case []any:
				for _, e := range sub {
					walk(path+"/"+k, e)
				}
			}
		}
	}
	walk("#", root)
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("keys without a description (add a doc comment to the field, then `make schema`):\n%s", strings.Join(missing, "\n"))
	}
}

func resolved(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// yamlToJSONValue decodes YAML into the JSON data model.
func yamlToJSONValue(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func TestSchemaAcceptsTheExampleConfig(t *testing.T) {
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=./byokcred.schema.json") {
		t.Error("config.example.yaml lacks the yaml-language-server modeline on its first line")
	}
	if err := resolved(t).Validate(yamlToJSONValue(t, string(b))); err != nil {
		t.Errorf("config.example.yaml does not validate: %v", err)
	}
}

func TestSchemaRefusesWhatTheLoaderRefuses(t *testing.T) {
	rs := resolved(t)
	const base = "providers:\n  p:\n    type: openai\n    base_url: https://x.example\n    model: m\n"
	tests := []struct {
		name, src string
		ok        bool
	}{
		{"valid static", base + "    auth: {type: static, api_key_env: K}\n", true},
		{"valid entra", base + "    auth: {type: entra, credential: managed_identity, client_id: x}\n", true},
		{"valid plugin", "plugins: {v: {command: /bin/x, call_timeout: 5s}}\n" + base + "    auth: {type: plugin, plugin: v, config: {any: [thing]}}\n", true},
		{"unknown top-level key", "providerz: {}\n" + base + "    auth: {type: static, api_key: k}\n", false},
		{"unknown provider key", base + "    base_ur1: x\n    auth: {type: static, api_key: k}\n", false},
		{"unknown provider type", strings.Replace(base, "openai", "gemini", 1) + "    auth: {type: static, api_key: k}\n", false},
		{"unknown auth type", base + "    auth: {type: magic}\n", false},
		{"key of another auth type", base + "    auth: {type: static, credential: default}\n", false},
		{"unknown entra credential", base + "    auth: {type: entra, credential: magic}\n", false},
		{"bad duration", "token_timeout: soon\n" + base + "    auth: {type: static, api_key: k}\n", false},
		{"missing providers", "default_provider: x\n", false},
		{"secret ref with its store's auth keys", base + "    auth: {type: static, api_key_secret: {store: azure_key_vault, secret: https://v.vault.azure.net/secrets/k, auth: {credential: managed_identity}}}\n", true},
		{"secret ref with aws keys", base + "    auth: {type: static, bearer_token_secret: {store: aws_secrets_manager, secret: k, auth: {region: us-east-1, role_arn: arn:aws:iam::123456789012:role/r}}}\n", true},
		{"secret ref with another store's auth keys", base + "    auth: {type: static, api_key_secret: {store: azure_key_vault, secret: https://v.vault.azure.net/secrets/k, auth: {region: us-east-1}}}\n", false},
		{"secret ref auth with a type", base + "    auth: {type: static, api_key_secret: {store: google_secret_manager, secret: projects/p/secrets/s, auth: {type: gcp}}}\n", false},
		{"unknown store", base + "    auth: {type: static, api_key_secret: {store: vault, secret: k}}\n", false},
		{"secret ref with its store's own key", base + "    auth: {type: static, api_key_secret: {store: aws_secrets_manager, secret: k, version_stage: AWSPREVIOUS, json_key: key, refresh_interval: 1m, auth: {region: us-east-1}}}\n", true},
		{"secret ref with another store's key", base + "    auth: {type: static, api_key_secret: {store: azure_key_vault, secret: https://v.vault.azure.net/secrets/k, version_stage: AWSPREVIOUS}}\n", false},
		{"secret ref with a key no store takes", base + "    auth: {type: static, api_key_secret: {store: google_secret_manager, secret: projects/p/secrets/s, vault: v}}\n", false},
		{"secret ref without a store", base + "    auth: {type: static, api_key_secret: {secret: k}}\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := rs.Validate(yamlToJSONValue(t, tc.src))
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
