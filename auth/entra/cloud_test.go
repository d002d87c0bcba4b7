package entra

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// cloudConfig is a one-provider config with base_url and auth.
func cloudConfig(baseURL, auth string) string {
	return "providers:\n  p:\n    type: azure\n    base_url: " + baseURL + "\n    model: m\n    auth: " + auth + "\n"
}

// loadErrors loads cfg and returns its problems without FILE:LINE:COL.
func loadErrors(t *testing.T, cfg string, opts registry.Options) []string {
	t.Helper()
	set, err := registry.Load(configtest.Write(t, cfg), opts)
	if err != nil {
		var got []string
		for _, line := range strings.Split(err.Error(), "\n") {
			_, msg, _ := strings.Cut(line, ": ")
			msg, _, _ = strings.Cut(msg, " (known keys")
			got = append(got, msg)
		}
		return got
	}
	set.Close()
	return nil
}

func TestCloudValidation(t *testing.T) {
	t.Parallel()
	const gov, public = "https://r.openai.azure.us", "https://r.openai.azure.com"
	tests := []struct {
		name, baseURL, auth string
		want                []string
	}{
		{name: "public by default", baseURL: public, auth: "{type: entra}"},
		{name: "government", baseURL: gov, auth: "{type: entra, cloud: AzureGovernment}"},
		{name: "china, any case", baseURL: "https://r.openai.azure.cn", auth: "{type: entra, cloud: azurechina}"},
		{name: "azure CLI's name", baseURL: gov, auth: "{type: entra, cloud: AzureUSGovernment}"},
		{name: "a custom domain is not checked", baseURL: "https://llm.contoso.example", auth: "{type: entra, cloud: AzureGovernment}"},
		{name: "private cloud", baseURL: "https://llm.contoso.example", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, scope: 'https://ai.contoso.example/.default', cloud: {authority_host: 'https://login.contoso.example', instance_discovery: false}}"},
		{name: "no cloud named: a managed identity's scope names it", baseURL: gov, auth: "{type: entra, credential: managed_identity, scope: 'https://cognitiveservices.azure.us/.default'}"},
		{name: "no cloud named: a service principal signs in to the public cloud", baseURL: gov, auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, scope: 'https://cognitiveservices.azure.us/.default'}", want: []string{
			"providers.p.base_url: r.openai.azure.us is an endpoint of AzureGovernment, but the identity signs in to AzurePublic (cloud AzurePublic); set auth.cloud: AzureGovernment",
			"providers.p.auth.scope: scope https://cognitiveservices.azure.us/.default is AzureGovernment's, but the identity signs in to AzurePublic; set cloud: AzureGovernment (whose default scope it is), or drop scope to use AzurePublic's (https://cognitiveservices.azure.com/.default)",
		}},
		{name: "unknown cloud", baseURL: public, auth: "{type: entra, cloud: AzureGerman}", want: []string{
			`providers.p.auth.cloud: unknown cloud "AzureGerman" (one of: AzurePublic, AzureGovernment, AzureChina; or a block {authority_host: https://…} for a private cloud)`,
		}},
		{name: "government endpoint, public identity", baseURL: gov, auth: "{type: entra}", want: []string{
			"providers.p.base_url: r.openai.azure.us is an endpoint of AzureGovernment, but the identity signs in to AzurePublic (cloud AzurePublic); set auth.cloud: AzureGovernment",
		}},
		{name: "public endpoint, china identity", baseURL: "https://r.services.ai.azure.com/models", auth: "{type: entra, cloud: AzureChina}", want: []string{
			"providers.p.base_url: r.services.ai.azure.com is an endpoint of AzurePublic, but the identity signs in to AzureChina (cloud AzureChina); set auth.cloud: AzurePublic",
		}},
		{name: "another cloud's scope", baseURL: gov, auth: "{type: entra, cloud: AzureGovernment, scope: 'https://cognitiveservices.azure.com/.default'}", want: []string{
			"providers.p.auth.scope: scope https://cognitiveservices.azure.com/.default is AzurePublic's, but the identity signs in to AzureGovernment; set cloud: AzurePublic (whose default scope it is), or drop scope to use AzureGovernment's (https://cognitiveservices.azure.us/.default)",
		}},
		{name: "private cloud without scope", baseURL: "https://llm.contoso.example", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, cloud: {authority_host: 'https://login.contoso.example/'}}", want: []string{
			"providers.p.auth.scope: a private cloud has no default scope: set scope to the resource of the model endpoint's tokens (https://…/.default)",
		}},
		{name: "authority over http", baseURL: public, auth: "{type: entra, scope: 'https://x/.default', cloud: {authority_host: 'http://login.contoso.example/'}}", want: []string{
			`providers.p.auth.cloud.authority_host: authority_host "http://login.contoso.example/": an authority is reached over https only (azidentity refuses anything else)`,
		}},
		{name: "authority with a tenant path", baseURL: public, auth: "{type: entra, scope: 'https://x/.default', cloud: {authority_host: 'https://login.contoso.example/tenant1'}}", want: []string{
			`providers.p.auth.cloud.authority_host: authority_host "https://login.contoso.example/tenant1": want the authority's root, https://login.contoso.example/, without a path (the tenant is tenant_id)`,
		}},
		{name: "a national authority as a private cloud", baseURL: gov, auth: "{type: entra, cloud: {authority_host: 'https://login.microsoftonline.us/'}}", want: []string{
			"providers.p.auth.cloud.authority_host: https://login.microsoftonline.us/ is AzureGovernment's authority; write cloud: AzureGovernment, which also sets its scopes and checks its endpoints",
		}},
		{name: "private cloud block without authority", baseURL: public, auth: "{type: entra, scope: 'https://x/.default', cloud: {instance_discovery: false}}", want: []string{
			"providers.p.auth.cloud.authority_host: a private cloud needs authority_host, its Entra or AD FS authority (https://login.example/)",
		}},
		{name: "misspelt key in the block", baseURL: public, auth: "{type: entra, scope: 'https://x/.default', cloud: {authority: 'https://login.contoso.example/'}}", want: []string{
			`providers.p.auth.cloud.authority: unknown key "authority"; did you mean "authority_host"?`,
		}},
		{name: "private authority with managed identity", baseURL: public, auth: "{type: entra, credential: managed_identity, scope: 'https://x/.default', cloud: {authority_host: 'https://login.contoso.example/'}}", want: []string{
			"providers.p.auth.cloud: a private cloud's authority_host does not apply to credential managed_identity: it gets its tokens from the managed identity endpoint, which knows its own cloud; name the cloud (AzurePublic, AzureGovernment, AzureChina) or use a credential that signs in to the authority",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) (string, bool) { return "s", k != envAuthorityHost }
			got := loadErrors(t, cloudConfig(tc.baseURL, tc.auth), registry.Options{LookupEnv: env, Logger: slog.New(slog.DiscardHandler)})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCloudAndAuthorityHostVariable: AZURE_AUTHORITY_HOST alone chooses the
// cloud, as azidentity documents it, and its defaults follow; with cloud:
// also set, the config wins and a warning names both.
func TestCloudAndAuthorityHostVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, baseURL, auth, env string
		wantFacts                []kind.TokenFact
		wantWarning              bool
	}{
		{name: "variable alone, a national cloud", baseURL: "https://r.openai.azure.us", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S}", env: "https://login.microsoftonline.us/",
			wantFacts: []kind.TokenFact{{Name: "cloud", Value: "AzureGovernment"}, {Name: "authority", Value: "https://login.microsoftonline.us/ (AZURE_AUTHORITY_HOST)"}, {Name: "scope", Value: "https://cognitiveservices.azure.us/.default"}}},
		{name: "variable alone, a private authority", baseURL: "https://r.openai.azure.com", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S}", env: "https://login.contoso.example/",
			wantFacts: []kind.TokenFact{{Name: "cloud", Value: "private"}, {Name: "authority", Value: "https://login.contoso.example/ (AZURE_AUTHORITY_HOST)"}, {Name: "scope", Value: DefaultScope}}},
		{name: "config wins", baseURL: "https://r.openai.azure.cn", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, cloud: AzureChina}", env: "https://login.microsoftonline.us/",
			wantFacts:   []kind.TokenFact{{Name: "cloud", Value: "AzureChina"}, {Name: "authority", Value: "https://login.chinacloudapi.cn/"}, {Name: "scope", Value: "https://cognitiveservices.azure.cn/.default"}},
			wantWarning: true},
		{name: "the same authority twice", baseURL: "https://r.openai.azure.cn", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, cloud: AzureChina}", env: "https://login.chinacloudapi.cn",
			wantFacts: []kind.TokenFact{{Name: "cloud", Value: "AzureChina"}, {Name: "authority", Value: "https://login.chinacloudapi.cn/"}, {Name: "scope", Value: "https://cognitiveservices.azure.cn/.default"}}},
		{name: "no cloud named: the scope of a managed identity names it", baseURL: "https://r.openai.azure.us", auth: "{type: entra, credential: managed_identity, scope: 'https://cognitiveservices.azure.us/.default'}",
			wantFacts: []kind.TokenFact{{Name: "cloud", Value: "AzureGovernment"}, {Name: "authority", Value: "the managed identity endpoint"}, {Name: "scope", Value: "https://cognitiveservices.azure.us/.default"}}},
		{name: "private cloud, discovery off", baseURL: "https://llm.contoso.example", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, scope: 'https://ai.contoso.example/.default', cloud: {authority_host: 'https://login.contoso.example', instance_discovery: false}}",
			wantFacts: []kind.TokenFact{{Name: "cloud", Value: "private"}, {Name: "authority", Value: "https://login.contoso.example/"}, {Name: "instance discovery", Value: "off"}, {Name: "scope", Value: "https://ai.contoso.example/.default"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			env := map[string]string{"S": "secret", envAuthorityHost: tc.env}
			set, err := registry.Load(configtest.Write(t, cloudConfig(tc.baseURL, tc.auth)), registry.Options{
				LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			p, err := set.Provider("p")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantFacts, p.DescribeToken(nil)); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
			warned := strings.Contains(logs.String(), "both cloud and AZURE_AUTHORITY_HOST are set; the config's cloud wins")
			if warned != tc.wantWarning {
				t.Errorf("warning logged %v, want %v; log:\n%s", warned, tc.wantWarning, logs.String())
			}
			if warned && !strings.Contains(logs.String(), "AZURE_AUTHORITY_HOST="+tc.env) {
				t.Errorf("warning does not name the variable's value:\n%s", logs.String())
			}
		})
	}
}

// TestOBOInEachCloud drives the real azidentity on-behalf-of credential
// against an authority at each cloud's host, addressed only by the config's
// cloud key: a national cloud's default scope is its own Cognitive
// Services, and a private authority Microsoft does not know answers with
// instance discovery off.
func TestOBOInEachCloud(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, baseURL, cloud, scope, wantAud string
	}{
		{"government", "login.microsoftonline.us", "https://r.openai.azure.us", "AzureGovernment", "", "https://cognitiveservices.azure.us"},
		{"china", "login.chinacloudapi.cn", "https://r.openai.azure.cn", "AzureChina", "", "https://cognitiveservices.azure.cn"},
		{"private, discovery off", "login.fake-private-cloud.test", "https://llm.fake-private-cloud.test", "{authority_host: 'https://login.fake-private-cloud.test/', instance_discovery: false}", "https://ai.fake-private-cloud.test/.default", "https://ai.fake-private-cloud.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := fakeentra.Start(fakeentra.Options{Host: tc.host, TenantID: "tenant1", ClientID: "app1", ClientSecret: "app-secret"})
			defer fe.Close()
			auth := "{type: entra, credential: on_behalf_of, tenant_id: tenant1, client_id: app1, client_secret_env: APP_SECRET, cloud: " + tc.cloud
			if tc.scope != "" {
				auth += ", scope: '" + tc.scope + "'"
			}
			env := map[string]string{"APP_SECRET": "app-secret"}
			set, err := registry.Load(configtest.Write(t, cloudConfig(tc.baseURL, auth+"}")), registry.Options{PerUser: true, HTTPClient: fe.Client(), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			p, err := set.Provider("p")
			if err != nil {
				t.Fatal(err)
			}
			us, err := p.ForUser(userToken(fe.UserToken("alice", time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := us.Token(context.Background())
			if err != nil {
				t.Fatalf("token: %v (refused: %v)", err, fe.Refused())
			}
			if who, err := fe.Check(tok.Value.Reveal(), time.Now()); err != nil || who != "alice" {
				t.Errorf("token for %q: %v", who, err)
			}
			if got := fe.Audience(tok.Value.Reveal()); got != tc.wantAud {
				t.Errorf("token audience %q, want %q", got, tc.wantAud)
			}
		})
	}
}
