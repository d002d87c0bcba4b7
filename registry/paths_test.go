package registry_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/auth/entra"
	"github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/config"
)

// One rule for every path key: a relative path is relative to the config
// file's directory, whatever the working directory; an absolute one stays.
func TestRelativePathsAreRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "conf", "byokcred.yaml")
	confDir := filepath.Join(dir, "conf")
	tests := []struct {
		name string
		src  string
		get  func(t *testing.T, n *yaml.Node, doc *config.Doc) string
		want string
	}{
		{"static api_key_file", "api_key_file: secrets/key", staticField(func(a *static.Auth) string { return a.APIKeyFile }), filepath.Join(confDir, "secrets/key")},
		{"static bearer_token_file", "bearer_token_file: ../tok", staticField(func(a *static.Auth) string { return a.BearerTokenFile }), filepath.Join(dir, "tok")},
		{"static absolute stays", "api_key_file: /etc/key", staticField(func(a *static.Auth) string { return a.APIKeyFile }), "/etc/key"},
		{"entra client_secret_file", "client_secret_file: sp.secret", entraField(func(a *entra.Auth) string { return a.ClientSecretFile }), filepath.Join(confDir, "sp.secret")},
		{"entra certificate_file", "certificate_file: ./certs/sp.pem", entraField(func(a *entra.Auth) string { return a.CertificateFile }), filepath.Join(confDir, "certs/sp.pem")},
		{"entra token_file", "token_file: wi/token", entraField(func(a *entra.Auth) string { return a.TokenFile }), filepath.Join(confDir, "wi/token")},
		{"expanded variable, then resolved", "api_key_file: ${KEYDIR}/key", staticField(func(a *static.Auth) string { return a.APIKeyFile }), filepath.Join(confDir, "keys/key")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.src), &n); err != nil {
				t.Fatal(err)
			}
			doc := config.NewDoc(file, func(k string) (string, bool) { return map[string]string{"KEYDIR": "keys"}[k], k == "KEYDIR" })
			got := tc.get(t, &n, doc)
			if err := doc.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// The plugin command: a relative path with a slash is a file next to
	// the config; a bare name is looked up on PATH, as a shell would.
	for _, tc := range []struct{ name, command, want string }{
		{"plugin command with a slash", "plugins/byokcred-plugin-file", filepath.Join(confDir, "plugins/byokcred-plugin-file")},
		{"plugin command bare name", "byokcred-plugin-file", "byokcred-plugin-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := config.Parse(file, []byte("plugins:\n  p:\n    command: "+tc.command+"\n"), nil)
			if diff := cmp.Diff(tc.want, cfg.Plugins["p"].Command); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func staticField(f func(*static.Auth) string) func(*testing.T, *yaml.Node, *config.Doc) string {
	return func(t *testing.T, n *yaml.Node, doc *config.Doc) string {
		var a static.Auth
		doc.Decode(n, "auth", &a)
		return f(&a)
	}
}

func entraField(f func(*entra.Auth) string) func(*testing.T, *yaml.Node, *config.Doc) string {
	return func(t *testing.T, n *yaml.Node, doc *config.Doc) string {
		var a entra.Auth
		doc.Decode(n, "auth", &a)
		return f(&a)
	}
}
