package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// Every key that names an endpoint, a model, a deployment or an API version
// expands ${VAR}: a model written ${FOUNDRY_MODEL:-gpt-4.1} is sent as the
// variable's value (or its default), never as that text.
func TestModelKeysExpand(t *testing.T) {
	t.Parallel()
	src := `default_model: az/${MODEL:-gpt-4.1}
providers:
  az:
    type: azure
    base_url: https://res.openai.azure.com
    api_version: ${AZ_API_VERSION}
    model: ${MODEL:-gpt-4.1}
    wire_model: ${DEPLOYMENT}
    auth: {type: static}
models:
  - id: ${SECOND}
    provider: az
    wire_model: ${SECOND_DEPLOYMENT:-second-deployment}
`
	type got struct {
		APIVersion, Model, WireModel, ModelsID, ModelsWire, DefaultModel string
	}
	tests := []struct {
		name string
		env  map[string]string
		want got
	}{
		{"from the environment", map[string]string{"AZ_API_VERSION": "2024-10-21", "MODEL": "gpt-4o", "DEPLOYMENT": "prod-4o", "SECOND": "o3", "SECOND_DEPLOYMENT": "prod-o3"},
			got{"2024-10-21", "gpt-4o", "prod-4o", "o3", "prod-o3", "az/gpt-4o"}},
		{"defaults", map[string]string{"AZ_API_VERSION": "latest", "DEPLOYMENT": "d", "SECOND": "o3"},
			got{"latest", "gpt-4.1", "d", "o3", "second-deployment", "az/gpt-4.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("m.yaml", []byte(src), lookupFrom(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Providers["az"]
			g := got{p.APIVersion, p.Model, p.WireModel, cfg.Models[0].ID, cfg.Models[0].WireModel, cfg.DefaultModel}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A `${` at a key that does not expand would reach the wire as that text:
// it is refused at its position, naming the key; a plugin's args are
// passed on as written.
func TestUnexpandedReferenceRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"provider type", "providers:\n  p: {type: \"${TYPE}\", base_url: https://x, model: m, auth: {type: static}}\n",
			[]string{`u.yaml:2:13: providers.p.type: type does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)`}},
		{"wire_api", "providers:\n  p: {type: openai, wire_api: \"${API}\", base_url: https://x, model: m, auth: {type: static}}\n",
			[]string{`u.yaml:2:31: providers.p.wire_api: wire_api does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)`}},
		{"escaped dollar in a model is a choice", "providers:\n  p: {type: openai, base_url: https://x, model: \"m$$\", auth: {type: static}}\n", nil},
		{"plugin args verbatim", "plugins:\n  v: {command: /bin/sh, args: [-c, 'echo ${TOKEN}']}\nproviders:\n  p: {type: openai, base_url: https://x, model: m, auth: {type: plugin}}\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := Parse("u.yaml", []byte(tc.yaml), lookupFrom(map[string]string{"TYPE": "openai", "API": "responses"}))
			if diff := cmp.Diff(tc.want, errorLines(t, cfg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The refusal covers the keys of every auth type (decoded through the
// Doc): a `tenant_id: ${TENANT}` or a scope in a list would otherwise be
// sent to the identity endpoint as that text.
func TestUnexpandedReferenceRefusedInAuthBlocks(t *testing.T) {
	t.Parallel()
	var auth struct {
		TenantID string   `yaml:"tenant_id"`
		Scopes   []string `yaml:"scopes"`
		File     string   `yaml:"file" byok:"expand"`
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("tenant_id: ${TENANT}\nscopes: [ok, 'api://${APP}/.default']\nfile: ${F}\n"), &n); err != nil {
		t.Fatal(err)
	}
	d := NewDoc("a.yaml", lookupFrom(map[string]string{"TENANT": "t", "APP": "a", "F": "/f"}))
	d.Decode(&n, "auth", &auth)
	var got []string
	if err := d.Err(); err != nil {
		for _, e := range err.(ErrorList) {
			got = append(got, e.Error())
		}
	}
	want := []string{
		`a.yaml:1:12: auth.tenant_id: tenant_id does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)`,
		`a.yaml:2:14: auth.scopes[1]: scopes does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if auth.File != "/f" || auth.TenantID != "" || auth.Scopes[0] != "ok" {
		t.Errorf("decoded %+v", auth)
	}
}
