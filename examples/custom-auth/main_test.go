package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const canary = "CANARY-gateway-7f3e9a1c5b"

func TestCustomAuthType(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_secret") != "s3cret-value" || r.FormValue("client_id") != "agent-1" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"access_token":"` + canary + `","expires_in":3600}`))
	}))
	defer gw.Close()
	t.Setenv("GATEWAY_SECRET", "s3cret-value")
	cfg := filepath.Join(t.TempDir(), "byokcred.yaml")
	os.WriteFile(cfg, []byte("providers:\n  internal:\n    type: openai\n    base_url: "+gw.URL+"/v1\n    model: llama\n    auth: {type: gateway, token_url: "+gw.URL+"/token, client_id: agent-1, client_secret_env: GATEWAY_SECRET}\n"), 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "internal: auth gateway, bearer CANA…") || !strings.Contains(out.String(), "expires in 1h0m0s") {
		t.Errorf("output = %q", out.String())
	}
	if strings.Contains(out.String(), canary) {
		t.Error("the token was printed")
	}
}

func TestCustomAuthTypeValidates(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "byokcred.yaml")
	os.WriteFile(cfg, []byte("providers:\n  internal:\n    type: openai\n    base_url: https://gw.example/v1\n    model: llama\n    auth: {type: gateway, token_url: 'http://gw.example/token', client_secret_env: NOT_SET_ANYWHERE}\n"), 0o600)
	err := run(context.Background(), cfg, new(bytes.Buffer))
	for _, want := range []string{
		"byokcred.yaml:6:5: providers.internal.auth: missing key \"client_id\"",
		"byokcred.yaml:6:38: providers.internal.auth.token_url: plain http to gw.example would send the credential unencrypted",
		"byokcred.yaml:6:84: providers.internal.auth.client_secret_env: environment variable NOT_SET_ANYWHERE is not set",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %s", err, want)
		}
	}
}
