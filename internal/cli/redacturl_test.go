package cli

import (
	"net/http"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestBaseURLQueryNeverPrinted: a base_url may carry a key in its query
// (?code=${X}); providers, doctor and the proxy's startup lines and debug
// log print the URL with that value redacted, while the requests still
// carry it.
func TestBaseURLQueryNeverPrinted(t *testing.T) {
	const urlCanary = "CANARY-base-url-code-8642097531"
	model := startModelT(t, fakemodel.Options{})
	cfg := writeFile(t, "byokcred.yaml", `providers:
  fn:
    type: openai
    base_url: `+model.URL+`/v1?code=${URL_CODE}&api-version=1
    model: m
    auth: {type: static, api_key_env: OAI_KEY}
`)
	env := map[string]string{"OAI_KEY": canary, "URL_CODE": urlCanary}
	const redacted = "?code=[REDACTED]&api-version=1"
	// JSON output escapes the "&".
	const redactedJSON = `?code=[REDACTED]\u0026api-version=1`
	for _, args := range [][]string{
		{"providers"},
		{"providers", "-o", "json"},
		{"doctor", "--probe"},
		{"doctor", "--probe", "-o", "json"},
	} {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			r := run(t, env, append([]string{"-c", cfg, "--log-level", "debug"}, args...)...)
			if r.code != ExitOK {
				t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			out := r.stdout + r.stderr
			if strings.Contains(out, urlCanary) || strings.Contains(out, canary) {
				t.Errorf("printed a secret:\n%s", out)
			}
			if !strings.Contains(out, redacted) && !strings.Contains(out, redactedJSON) {
				t.Errorf("output lacks the redacted URL %q:\n%s", redacted, out)
			}
		})
	}
	t.Run("proxy", func(t *testing.T) {
		rp := startProxyCmd(t, env, []string{"-c", cfg, "--log-level", "debug"})
		resp, err := http.Post(rp.url+"/fn/chat/completions", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code := rp.stop(t); code != ExitOK {
			t.Errorf("exit %d", code)
		}
		out := rp.stderr.String()
		if strings.Contains(out, urlCanary) || strings.Contains(out, canary) {
			t.Errorf("printed a secret:\n%s", out)
		}
		for _, want := range []string{rp.url + "/fn → " + model.URL + "/v1" + redacted, `url="` + model.URL + "/v1/chat/completions" + redacted + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("stderr lacks %q:\n%s", want, out)
			}
		}
	})
	// The doctor probe and the proxied request both sent the real value.
	sent := 0
	for _, r := range model.Requests() {
		if strings.Contains(r.RawQuery, "code="+urlCanary+"&api-version=1") {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("%d of %d upstream requests carried the base URL's query, want 3 (two probes, one proxied)", sent, len(model.Requests()))
	}
}
