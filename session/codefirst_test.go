package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// TestCodeBuiltProvidersInSessions: providers built in code get the session
// configs a file's providers get — a bearer token through the per-request
// callback (served from the cache: one fetch for many requests), an Azure
// API key in the static field — and mix with a file's providers in one
// multi-provider session, each callback handing out its own provider's
// credential.
func TestCodeBuiltProvidersInSessions(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	bearer := credential.TokenSourceFunc(func(context.Context) (*credential.Token, error) {
		fetches.Add(1)
		return &credential.Token{Value: credential.NewSecret("code-bearer"), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
	})
	code, err := registry.NewProvider(registry.ProviderSpec{Name: "code", Type: "openai", BaseURL: "https://code.example/v1", Model: "m", Source: bearer}, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer code.Close()
	azkey, err := registry.NewProvider(registry.ProviderSpec{Name: "azkey", Type: "azure", BaseURL: "https://az.example", APIVersion: "2024-10-21", Model: "gpt-4.1",
		Source: credential.StaticTokenSource(&credential.Token{Value: credential.NewSecret("az-key"), Kind: credential.KindAPIKey}), SelfCaching: true}, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer azkey.Close()
	path := configtest.Write(t, "providers:\n  file:\n    type: openai\n    base_url: https://file.example/v1\n    model: f\n    auth: {type: static, api_key: file-key}\n")
	set, err := registry.Load(path, registry.Options{Providers: []*registry.Provider{code, azkey}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	f := session.NewFactory(set, session.Options{})
	ctx := context.Background()

	single, err := f.SessionConfig(ctx, "code", nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := single.Provider.BearerTokenProvider(copilot.ProviderTokenArgs{ProviderName: "default"}); err != nil {
			t.Fatal(err)
		}
	}
	az, err := f.SessionConfig(ctx, "azkey", nil)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := f.MultiSessionConfig(ctx, "code/m", nil)
	if err != nil {
		t.Fatal(err)
	}
	type wired struct {
		Name, Type, BaseURL, APIKey, Callback string
	}
	var got []wired
	for _, p := range multi.Providers {
		w := wired{Name: p.Name, Type: p.Type, BaseURL: p.BaseURL, APIKey: p.APIKey}
		if p.BearerTokenProvider != nil {
			w.Callback, err = p.BearerTokenProvider(copilot.ProviderTokenArgs{ProviderName: p.Name})
			if err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, w)
	}
	want := []wired{
		{Name: "azkey", Type: "azure", BaseURL: "https://az.example", APIKey: "az-key"},
		{Name: "code", Type: "openai", BaseURL: "https://code.example/v1", Callback: "code-bearer"},
		{Name: "file", Type: "openai", BaseURL: "https://file.example/v1", Callback: "file-key"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("multi-provider config (-want +got):\n%s", diff)
	}
	type summary struct {
		SingleModel, MultiModel, AzureAPIKey, AzureAPIVersion string
		SingleStatic                                          bool
		Fetches                                               int64
	}
	gotSummary := summary{single.Model, multi.Model, az.Provider.APIKey, az.Provider.Azure.APIVersion, single.Provider.BearerToken != "" || single.Provider.APIKey != "", fetches.Load()}
	wantSummary := summary{SingleModel: "m", MultiModel: "code/m", AzureAPIKey: "az-key", AzureAPIVersion: "2024-10-21", Fetches: 1}
	if diff := cmp.Diff(wantSummary, gotSummary); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
