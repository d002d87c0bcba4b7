package registry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// Load a config file: every provider with its credential source.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(path, []byte(`providers:
  openai:
    type: openai
    base_url: https://api.openai.com/v1
    model: gpt-4.1
    auth: {type: static, api_key_env: EXAMPLE_OPENAI_KEY}
`), 0o600)
	os.Setenv("EXAMPLE_OPENAI_KEY", "sk-example")
	defer os.Unsetenv("EXAMPLE_OPENAI_KEY")

	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		fmt.Println(err) // every problem, FILE:LINE:COL: message
		return
	}
	defer set.Close()
	p, _ := set.Provider("openai")
	tok, _ := p.Source.Token(context.Background())
	fmt.Println(p.Name, p.Type, p.AuthType, tok.Kind, tok.Value) // the value prints redacted
	// Output: openai openai static api_key [REDACTED]
}

// Load reports every problem at once, with its position.
func ExampleLoad_errors() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	path := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(path, []byte(`providers:
  openai:
    type: openai
    base_url: http://api.openai.com/v1
    model: gpt-4.1
    auth: {type: static, api_kye: x}
`), 0o600)
	os.Chdir(dir) // so that the file name prints short
	_, err := registry.Load("byokcred.yaml", registry.Options{})
	fmt.Println(err)
	// Output:
	// byokcred.yaml:4:15: providers.openai.base_url: plain http to api.openai.com would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)
	// byokcred.yaml:6:26: providers.openai.auth.api_kye: unknown key "api_kye"; did you mean "api_key"? (known keys: api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret)
}

// vaultAuth is a custom auth type: a config struct whose yaml tags name its
// keys, with Validate and Source.
type vaultAuth struct {
	Role string `yaml:"role"`
}

func (a *vaultAuth) Validate(b *kind.Build) {
	if a.Role == "" {
		b.Errorf("role", "role is required")
	}
}

func (a *vaultAuth) Source(b *kind.Build) (kind.Result, error) {
	// A real one would ask Vault; any credential.TokenSource will do.
	return kind.Result{Source: credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret("token-for-" + a.Role)})}, nil
}

// Register a custom auth type, usable as `auth: {type: example-vault, role: …}`.
func ExampleRegister() {
	kind.Register("example-vault", func() kind.AuthConfig { return new(vaultAuth) })

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(path, []byte(`providers:
  gateway:
    type: openai
    base_url: https://gateway.example/v1
    model: llama
    auth: {type: example-vault, role: llm-reader}
`), 0o600)
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Close()
	p, _ := set.Provider("gateway")
	tok, _ := p.Source.Token(context.Background())
	fmt.Println(tok.Kind, tok.Value.Reveal())
	// Output: bearer token-for-llm-reader
}
