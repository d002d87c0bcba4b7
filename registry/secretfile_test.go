package registry_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"

	// The credential kinds whose files are checked.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/static"
)

// Every secret file a config names is held to the same rules: a regular
// file, 0600, at most 64 KiB. A 2 GiB sparse file used to take 42 s and
// 4 GB of memory to "validate"; a FIFO blocked the loader (issue 19.9).
func TestSecretFilesAreRegularAndSmallEverywhere(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "sparse")
	if err := os.WriteFile(sparse, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 2<<30); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	const tooBig = "is 2147483648 bytes; a credential file holds at most 65536"
	const notRegular = "is not a regular file"
	static := func(key, path string) string { return "{type: static, " + key + ": " + path + "}" }
	entraSecret := func(path string) string {
		return "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_file: " + path + "}"
	}
	entraCert := func(path string) string {
		return "{type: entra, credential: client_certificate, tenant_id: t, client_id: c, certificate_file: " + path + "}"
	}
	tests := []struct {
		name, auth, want string
	}{
		{"api_key_file sparse", static("api_key_file", sparse), tooBig},
		{"api_key_file FIFO", static("api_key_file", fifo), notRegular},
		{"bearer_token_file sparse", static("bearer_token_file", sparse), tooBig},
		{"bearer_token_file FIFO", static("bearer_token_file", fifo), notRegular},
		{"client_secret_file sparse", entraSecret(sparse), tooBig},
		{"client_secret_file FIFO", entraSecret(fifo), notRegular},
		{"certificate_file sparse", entraCert(sparse), tooBig},
		{"certificate_file FIFO", entraCert(fifo), notRegular},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, "providers:\n  p:\n    type: azure\n    base_url: https://r.openai.azure.com\n    model: m\n    auth: "+tc.auth+"\n")
			began := time.Now()
			set, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			if err == nil {
				set.Close()
				t.Fatalf("loaded; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			// Refused from its size, not after reading it.
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}
