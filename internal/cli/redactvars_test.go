package cli

import (
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestBaseURLVariablesNeverPrinted is finding 8 of issue 23: a ${VAR} in a
// base_url's path segment or ;param, or a variable holding the whole URL,
// may be a secret, and only query values were redacted. Every command
// that prints the URL, in every format, shows such parts as ${NAME} (or
// [REDACTED] for the path of a whole-URL variable); the probe still sends
// the real values.
func TestBaseURLVariablesNeverPrinted(t *testing.T) {
	const (
		keyCanary   = "CANARY-path-key-1357924680"
		sigCanary   = "CANARY-param-sig-2468013579"
		codeCanary  = "CANARY-query-code-9753108642"
		wholeCanary = "CANARY-whole-url-8642013579"
	)
	model := startModelT(t, fakemodel.Options{})
	cfg := writeFile(t, "byokcred.yaml", `default_provider: fn
providers:
  fn:
    type: openai
    base_url: `+model.URL+`/fn/${FN_KEY}/v1;sig=${FN_SIG}?code=${FN_CODE}
    model: m
    auth: {type: static, api_key_env: OAI_KEY}
  whole:
    type: openai
    base_url: ${WHOLE_URL}
    model: m
    auth: {type: static, api_key_env: OAI_KEY}
`)
	env := map[string]string{"OAI_KEY": canary, "FN_KEY": keyCanary, "FN_SIG": sigCanary, "FN_CODE": codeCanary,
		"WHOLE_URL": model.URL + "/" + wholeCanary + "/v1"}
	shown := model.URL + "/fn/${FN_KEY}/v1;sig=${FN_SIG}"
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"providers"}, []string{shown + "?code=[REDACTED]", model.URL + "/[REDACTED]"}},
		{[]string{"providers", "-o", "json"}, []string{`"base_url": "` + shown + `?code=[REDACTED]"`, `"base_url": "` + model.URL + `/[REDACTED]"`}},
		{[]string{"doctor", "fn"}, []string{shown + "?code=[REDACTED]"}},
		{[]string{"doctor", "--probe", "fn"}, []string{"GET " + shown + "/models?code=[REDACTED]"}},
		{[]string{"doctor", "--probe", "-o", "json", "fn"}, []string{"GET " + shown + "/models?code=[REDACTED]"}},
		{[]string{"doctor", "--probe", "whole"}, []string{"GET " + model.URL + "/[REDACTED]/models"}},
		{[]string{"validate"}, nil},
		{[]string{"validate", "-o", "json"}, nil},
		{[]string{"copilot-env", "--agent", "off", "fn"}, []string{`export COPILOT_PROVIDER_BASE_URL='` + model.URL + `/fn/'"${FN_KEY}"'/v1;sig='"${FN_SIG}"'?code='"${FN_CODE}"`}},
		{[]string{"copilot-env", "--agent", "off", "whole"}, []string{`export COPILOT_PROVIDER_BASE_URL="${WHOLE_URL}"`}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, env, append([]string{"-c", cfg, "--log-level", "debug"}, tc.args...)...)
			out := r.stdout + r.stderr
			for _, c := range []string{keyCanary, sigCanary, codeCanary, wholeCanary, canary} {
				if strings.Contains(out, c) {
					t.Errorf("printed %s:\n%s", c, out)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("proxy startup lines", func(t *testing.T) {
		rp := startProxyCmd(t, env, []string{"-c", cfg, "--log-level", "debug"})
		if code := rp.stop(t); code != ExitOK {
			t.Errorf("exit %d", code)
		}
		out := rp.stderr.String()
		for _, c := range []string{keyCanary, sigCanary, codeCanary, wholeCanary, canary} {
			if strings.Contains(out, c) {
				t.Errorf("printed %s:\n%s", c, out)
			}
		}
		for _, w := range []string{"/fn → " + shown + "?code=[REDACTED]", "/whole → " + model.URL + "/[REDACTED]"} {
			if !strings.Contains(out, w) {
				t.Errorf("stderr lacks %q:\n%s", w, out)
			}
		}
	})
	// The probes sent the real values.
	sent := 0
	for _, r := range model.Requests() {
		if strings.Contains(r.Path, keyCanary) && strings.Contains(r.Path, sigCanary) && strings.Contains(r.RawQuery, codeCanary) {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("%d upstream requests carried the base URL's secrets, want 2 (the two fn probes)", sent)
	}
}
