package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestCodeFirst runs the example through the real runtime against a
// loopback Foundry (Entra tokens from a loopback managed-identity endpoint,
// through azidentity) and a loopback gateway (tokens from a loopback OAuth
// client-credentials endpoint, through x/oauth2): no config file anywhere.
func TestCodeFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	idp, err := fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	foundry, err := fakemodel.Start(fakemodel.Options{Reply: "keys leak", Check: idp.Authorize})
	if err != nil {
		t.Fatal(err)
	}
	defer foundry.Close()

	var issued atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.FormValue("grant_type") != "client_credentials" || id != "app" || secret != "app-secret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"gw-token-%d","token_type":"Bearer","expires_in":3600}`, issued.Add(1))
	}))
	defer tokens.Close()
	gateway, err := fakemodel.Start(fakemodel.Options{Reply: "rotate them", Check: func(r *fakemodel.Request) int {
		if r.Header.Get("Authorization") != "Bearer gw-token-1" {
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer gateway.Close()

	t.Setenv("AZURE_AI_FOUNDRY_RESOURCE_URL", foundry.URL)
	t.Setenv("GATEWAY_URL", gateway.URL)
	t.Setenv("GATEWAY_TOKEN_URL", tokens.URL)
	t.Setenv("GATEWAY_CLIENT_ID", "app")
	t.Setenv("GATEWAY_CLIENT_SECRET", "app-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := "[foundry/gpt-4.1] keys leak\n[gateway/llama-3.3-70b] rotate them\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	type seen struct{ Path, Model string }
	var got []seen
	for _, r := range append(foundry.Requests(), gateway.Requests()...) {
		if r.Status != http.StatusOK {
			t.Errorf("%s answered %d", r.Path, r.Status)
		}
		got = append(got, seen{r.Path, r.Model})
	}
	wantSeen := []seen{{"/openai/v1/responses", "gpt-4.1"}, {"/chat/completions", "llama-3.3-70b"}}
	if diff := cmp.Diff(wantSeen, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
