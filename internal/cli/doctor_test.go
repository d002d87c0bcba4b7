package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

func TestDoctor(t *testing.T) {
	idp, err := fakeidentity.Start(fakeidentity.Options{TenantID: "tenant-x", ObjectID: "object-y"})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	t.Setenv("PATH", t.TempDir()) // no az or azd: those links fail fast
	ok, err := fakemodel.Start(fakemodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	denied, err := fakemodel.Start(fakemodel.Options{Check: func(*fakemodel.Request) int { return http.StatusForbidden }})
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  foundry: {type: azure, base_url: `+ok.URL+`, model: m, auth: {type: entra}}
  wrongscope: {type: azure, base_url: `+ok.URL+`, model: m, auth: {type: entra, credential: managed_identity, scope: "https://management.azure.com/.default"}}
  down: {type: azure, base_url: `+ok.URL+`, model: m, auth: {type: entra, credential: managed_identity, scope: "https://down.example/.default"}}
  denied: {type: anthropic, base_url: `+denied.URL+`, model: m, auth: {type: static, api_key: k-123}}
`)
	t.Run("healthy entra with default chain and probe", func(t *testing.T) {
		r := run(t, nil, "-c", cfg, "doctor", "foundry", "--probe")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, w := range []string{
			"foundry (azure, auth entra): OK",
			"[  ok  ] default chain ManagedIdentityCredential answered; EnvironmentCredential: ",
			"[  ok  ] credential    bearer, eyJh…",
			"[  ok  ] claims        aud=https://cognitiveservices.azure.com tid=", // azidentity may answer from its process-wide cache
			"[  ok  ] probe         GET " + ok.URL + "/openai/v1/models → 200",
		} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("output lacks %q:\n%s", w, r.stdout)
			}
		}
	})
	t.Run("audience warning", func(t *testing.T) {
		r := run(t, nil, "-c", cfg, "doctor", "wrongscope")
		if r.code != 0 || !strings.Contains(r.stdout, `[ WARN ] audience      token audience "https://management.azure.com", but this endpoint expects https://cognitiveservices.azure.com or https://ai.azure.com`) {
			t.Errorf("exit %d:\n%s", r.code, r.stdout)
		}
	})
	t.Run("403 probe fails and json", func(t *testing.T) {
		r := run(t, nil, "-c", cfg, "doctor", "denied", "--probe", "-o", "json")
		if r.code != ExitFailure {
			t.Errorf("exit %d, want %d", r.code, ExitFailure)
		}
		var reports []doctorReport
		if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		var statuses []string
		for _, c := range reports[0].Checks {
			statuses = append(statuses, c.Name+"="+c.Status)
		}
		if diff := cmp.Diff([]string{"config=ok", "credential=ok", "probe=fail"}, statuses); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !strings.Contains(reports[0].Checks[2].Detail, "403: the credential is valid but lacks permission") || strings.Contains(r.stdout, "k-123") {
			t.Errorf("probe detail: %s", reports[0].Checks[2].Detail)
		}
		if h, v := denied.Requests()[0].Credential(); h != "x-api-key" || v != "k-123" {
			t.Errorf("probe sent %s", h)
		}
	})
	t.Run("identity provider down", func(t *testing.T) {
		bad, err := fakeidentity.Start(fakeidentity.Options{Fault: func(int) int { return 400 }})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		bad.Setenv(t)
		r := run(t, nil, "-c", cfg, "doctor", "down", "--timeout", "20s")
		if r.code != ExitFailure || !strings.Contains(r.stdout, "[ FAIL ] credential") || !strings.Contains(r.stdout, "ManagedIdentityCredential") {
			t.Errorf("exit %d:\n%s", r.code, r.stdout)
		}
	})
}
