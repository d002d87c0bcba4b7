package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
)

// TestAgentDescribe: the agent's provider description carries what the
// TypeScript client needs to build the provider config the Go session
// factory builds, and none of the config's secrets: not the static key, not
// a value from an environment variable beyond the URL's host (sent as
// ${NAME}), not a literal header whose name says it is a credential.
func TestAgentDescribe(t *testing.T) {
	t.Parallel()
	const keyCanary, envCanary, litCanary = "CANARY-describe-key-1a2b", "CANARY-describe-env-3c4d", "CANARY-describe-lit-5e6f"
	path := configtest.Write(t, `
providers:
  oai:
    type: openai
    base_url: https://${OAI_HOST}/v1?code=${FN_CODE}
    wire_api: responses
    model: gpt-5
    headers: {X-Team: blue, X-Sub: "pre-${SUB_KEY}", X-Cost: "$$5", Api-Token: "${SUB_KEY}", Ocp-Apim-Subscription-Key: `+litCanary+`}
    auth: {type: static, api_key: `+keyCanary+`}
  az:
    type: azure
    base_url: ${AZ_URL}
    api_version: 2024-10-21
    model: gpt-4o
    wire_model: prod-4o
    auth: {type: static, api_key: `+keyCanary+`}
`)
	env := map[string]string{"SUB_KEY": envCanary, "FN_CODE": envCanary, "OAI_HOST": "oai.example", "AZ_URL": "https://az.example/openai"}
	live, err := registry.NewLive(path, registry.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	describe := agentDescribe(live)
	type result struct {
		Info     *agent.ProviderInfo
		Kind     credential.Kind
		Provider string
		Err      string
	}
	tests := []struct {
		name, provider string
		want           result
	}{
		{name: "openai: env parts as ${NAME} (the host kept), a literal $ as $$, a literal credential header withheld", provider: "oai", want: result{Provider: "oai", Kind: credential.KindAPIKey, Info: &agent.ProviderInfo{
			Type: "openai", BaseURL: "https://oai.example/v1?code=${FN_CODE}", WireAPI: "responses", Model: "gpt-5",
			Headers:          map[string]string{"X-Team": "blue", "X-Sub": "pre-${SUB_KEY}", "X-Cost": "$$5", "Api-Token": "${SUB_KEY}"},
			WithheldHeaders:  []string{"Ocp-Apim-Subscription-Key"},
			CredentialHeader: "Authorization", Refresh: "per_request"}}},
		{name: "azure API key: its own header; a variable holding the whole URL, path included, as ${NAME}", provider: "az", want: result{Provider: "az", Kind: credential.KindAPIKey, Info: &agent.ProviderInfo{
			Type: "azure", BaseURL: "${AZ_URL}", Model: "gpt-4o", WireModel: "prod-4o", APIVersion: "2024-10-21",
			CredentialHeader: "Api-Key", Refresh: "per_request"}}},
		{name: "unknown provider", provider: "nope", want: result{Err: "agent: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, kind, name, err := describe(context.Background(), tt.provider)
			got := result{Info: info, Kind: kind, Provider: name}
			if err != nil {
				var ae *agent.Error
				if !strings.Contains(err.Error(), `"nope"`) || !errors.As(err, &ae) || ae.Code != agent.CodeProvider {
					t.Fatalf("err = %v, want a CodeProvider error naming the provider", err)
				}
				got.Err = "agent: "
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			wire, _ := json.Marshal(info)
			for _, c := range []string{keyCanary, envCanary, litCanary} {
				if strings.Contains(string(wire), c) {
					t.Errorf("the description carries a secret: %s", wire)
				}
			}
		})
	}
}
