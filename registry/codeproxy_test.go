package registry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// TestCodeBuiltSetBehindTheProxy: the proxy serves a set built in code as
// it serves a file's: the client's request reaches the provider with the
// code-built source's credential in the header the provider's type takes.
func TestCodeBuiltSetBehindTheProxy(t *testing.T) {
	t.Parallel()
	model, err := fakemodel.Start(fakemodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	src := credential.TokenSourceFunc(func(context.Context) (*credential.Token, error) {
		return &credential.Token{Value: credential.NewSecret("code-token"), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
	})
	p, err := registry.NewProvider(registry.ProviderSpec{Name: "gw", Type: "openai", BaseURL: model.URL + "/v1", Model: "m", Source: src}, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set, err := registry.NewSet(registry.SetSpec{Providers: []*registry.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	px, err := proxy.New(proxy.Options{Providers: set})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(px)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/gw/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	type seen struct {
		Status         int
		Path, Model    string
		Header, Secret string
	}
	var got []seen
	for _, r := range model.Requests() {
		h, v := r.Credential()
		got = append(got, seen{r.Status, r.Path, r.Model, h, v})
	}
	want := []seen{{http.StatusOK, "/v1/chat/completions", "m", "Authorization", "code-token"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the provider received (-want +got):\n%s", diff)
	}
}
