package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A base_url copied with its endpoint path would send requests to
// …/chat/completions/chat/completions: refused with the fix.
func TestBaseURLWithEndpointPathIsRefused(t *testing.T) {
	tests := []struct {
		name, typ, baseURL string
		want               []string
	}{
		{"openai chat completions", "openai", "https://api.example.com/v1/chat/completions",
			[]string{`f.yaml:4:15: providers.p.base_url: base_url ends in the endpoint path /chat/completions, which the runtime appends itself (requests would go to …/chat/completions/chat/completions): remove /chat/completions from base_url`}},
		{"openai responses, trailing slash", "openai", "https://api.example.com/v1/responses/",
			[]string{`f.yaml:4:15: providers.p.base_url: base_url ends in the endpoint path /responses, which the runtime appends itself (requests would go to …/responses/responses): remove /responses from base_url`}},
		{"anthropic messages", "anthropic", "https://api.anthropic.example/v1/messages",
			[]string{`f.yaml:4:15: providers.p.base_url: base_url ends in the endpoint path /v1/messages, which the runtime appends itself (requests would go to …/v1/messages/v1/messages): remove /v1/messages from base_url`}},
		{"azure deployment completions", "azure", "https://res.openai.azure.com/openai/deployments/gpt/chat/completions",
			[]string{`f.yaml:4:15: providers.p.base_url: base_url ends in the endpoint path /chat/completions, which the runtime appends itself (requests would go to …/chat/completions/chat/completions): remove /chat/completions from base_url`}},
		{"openai base is fine", "openai", "https://api.example.com/v1", nil},
		{"a path that merely contains responses is fine", "openai", "https://api.example.com/responses-gw/v1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "providers:\n  p:\n    type: " + tc.typ + "\n    base_url: " + tc.baseURL + "\n    model: m\n    auth: {type: static, api_key: k}\n"
			cfg, _ := Parse("f.yaml", []byte(src), lookupFrom(nil))
			if diff := cmp.Diff(tc.want, errorLines(t, cfg)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
