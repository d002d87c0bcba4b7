package gatewayauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	_ "github.com/byokcred/byokcred/examples/custom-auth/gatewayauth"
	"github.com/byokcred/byokcred/kindtest"
)

const (
	clientSecret = "CANARY-gateway-client-secret-2c9b71"
	accessToken  = "CANARY-gateway-access-token-e04f5a"
)

// TestConformance checks the kind with byokcred's kit against a fake
// gateway: what every kind, built in or not, promises the programs that
// load it.
func TestConformance(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_secret") != clientSecret {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"access_token":"` + accessToken + `","expires_in":3600}`))
	}))
	defer gw.Close()
	kindtest.Run(t, kindtest.Kind{
		Type:  "gateway",
		Valid: "token_url: " + gw.URL + "/token\nclient_id: agent-1\nclient_secret_env: GATEWAY_SECRET",
		Invalid: []string{
			"token_url: http://gw.example/token\nclient_id: agent-1\nclient_secret_env: GATEWAY_SECRET",
			"client_id: agent-1",
		},
		Env:        map[string]string{"GATEWAY_SECRET": clientSecret},
		HTTPClient: gw.Client(),
		Secrets:    []string{clientSecret, accessToken},
	})
}
