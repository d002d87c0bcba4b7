package cli

import (
	"net/http"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestProxyAllowOrigin: --allow-origin lets one web origin's pages use the
// proxy; every other origin, loopback ones included, stays refused.
func TestProxyAllowOrigin(t *testing.T) {
	model := startModelT(t, fakemodel.Options{})
	cfg := writeFile(t, "byokcred.yaml", `providers:
  oai: {type: openai, base_url: `+model.URL+`/v1, model: m, auth: {type: static, api_key_env: OAI_KEY}}
`)
	env := map[string]string{"OAI_KEY": canary}
	if r := run(t, env, "-c", cfg, "proxy", "--allow-origin", "localhost:5173"); r.code != ExitUsage || !strings.Contains(r.stderr, "scheme://host[:port]") {
		t.Errorf("a malformed origin: exit %d, stderr %q", r.code, r.stderr)
	}
	rp := startProxyCmd(t, env, []string{"-c", cfg}, "--allow-origin", "http://localhost:5173")
	for origin, want := range map[string]int{"http://localhost:5173": 200, "http://localhost:5174": 403} {
		req, _ := http.NewRequest(http.MethodPost, rp.url+"/oai/chat/completions", strings.NewReader(`{}`))
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Origin %s: status %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
