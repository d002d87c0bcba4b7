// Command byokcred-plugin-static is an example credential plugin: it serves
// an API key from a variable of its own environment. It is the example of
// plugins/README.md, kept here so that the build keeps it compiling.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
)

var log = sdk.Logger("static")

type plugin struct{}

func (plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "static", Version: sdk.BuildVersion()}, nil
}

func (plugin) Configure(_ context.Context, providerName string, raw map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(raw)
	name := c.String("variable", sdk.Required)
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	log.Debug("configured", "provider", providerName, "variable", name) // the name, never the value
	return source(name), nil
}

type source string

func (s source) Token(ctx context.Context) (*credential.Token, error) {
	v := os.Getenv(string(s))
	if v == "" {
		return nil, fmt.Errorf("static: %s is not set in the plugin's env", string(s))
	}
	return &credential.Token{Value: credential.NewSecret(v), Kind: credential.KindAPIKey}, nil
}

func main() { sdk.Serve(plugin{}) }
