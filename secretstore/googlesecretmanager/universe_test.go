package googlesecretmanager_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
)

// hostRecorder answers every request 403 and records the hosts asked.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	body := `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`
	return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestUniverseDomain: a secret is read at the Secret Manager endpoint of the
// universe its credential belongs to; a regional secret, documented in the
// public universe only, is refused in another.
func TestUniverseDomain(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	key, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "byok-test-project", "private_key_id": "0123456789abcdef",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "reader@byok-test-project.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://127.0.0.1:1/token", "universe_domain": "example-tpc.goog",
	})
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(secret string) string {
		return "providers:\n  p:\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n      api_key_secret:\n        store: google_secret_manager\n        secret: " + secret +
			"\n        auth: {universe_domain: example-tpc.goog, credentials_file: " + keyFile + "}\n"
	}

	t.Run("global secret", func(t *testing.T) {
		t.Parallel()
		rec := new(hostRecorder)
		set, err := registry.Load(configtest.Write(t, cfg("projects/byok-test-project/secrets/k")), registry.Options{HTTPClient: &http.Client{Transport: rec}})
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		p, err := set.Provider("p")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Token(context.Background()); err == nil {
			t.Fatal("a 403 from the store gave a key")
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if diff := cmp.Diff([]string{"secretmanager.example-tpc.goog"}, rec.hosts[:min(1, len(rec.hosts))]); diff != "" {
			t.Errorf("hosts asked (-want +got):\n%s", diff)
		}
	})
	t.Run("regional secret", func(t *testing.T) {
		t.Parallel()
		path := configtest.Write(t, cfg("projects/byok-test-project/locations/u-central1/secrets/k"))
		_, err := registry.Load(path, registry.Options{})
		want := path + ":10:17: providers.p.auth.api_key_secret.secret: a regional secret (locations/u-central1) is read at secretmanager.u-central1.rep.googleapis.com, which Google documents in universe googleapis.com only, not in example-tpc.goog; use a global secret (projects/PROJECT/secrets/NAME)"
		if err == nil || err.Error() != want {
			t.Errorf("error:\n%v\nwant:\n%s", err, want)
		}
	})
}
