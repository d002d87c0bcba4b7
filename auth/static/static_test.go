package static_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"

	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/registry"
)

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte("k"), 0o644)
	os.Chmod(loose, 0o644)
	path := configtest.Write(t, `providers:
  b:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_env: NOT_SET_ANYWHERE
  c:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key: x, bearer_token_env: Y}
  d:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key_file: `+loose+`}
`)
	_, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil {
		t.Fatal("want errors")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:8:20: providers.b.auth.api_key_env: environment variable NOT_SET_ANYWHERE is not set; export it or change the config`,
		`c.yaml:13:5: providers.c.auth: static auth takes exactly one of api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret; 2 are set`,
		`c.yaml:18:40: providers.d.auth.api_key_file: secretfile: ` + loose + ` is readable by group or others (mode 0644); run: chmod 600 ` + loose,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}
