package sdk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
)

// greeter is a complete credential plugin: Describe, and Configure returning
// a credential.TokenSource. Its main would be one line: sdk.Serve(greeter{}).
type greeter struct{}

func (greeter) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "greeter", Version: "1.0.0"}, nil
}

func (greeter) Configure(_ context.Context, providerName string, raw map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(raw)
	prefix := c.String("prefix", sdk.Required)
	if err := c.Err(); err != nil { // unknown keys and missing ones are errors
		return nil, err
	}
	return tokenFunc(func(context.Context) (*credential.Token, error) {
		return &credential.Token{Value: credential.NewSecret(prefix + providerName), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
	}), nil
}

type tokenFunc func(context.Context) (*credential.Token, error)

func (f tokenFunc) Token(ctx context.Context) (*credential.Token, error) { return f(ctx) }

// Write a plugin: implement shared.Credential and call sdk.Serve from main.
// Here the implementation is called in process to show what the host sees.
func Example_plugin() {
	var impl shared.Credential = greeter{}
	ctx := context.Background()
	info, _ := impl.Describe(ctx)
	src, _ := impl.Configure(ctx, "gateway", map[string]any{"prefix": "tok-for-"})
	tok, _ := src.Token(ctx)
	fmt.Println(info.Name, info.Version, tok.Kind, tok.Value.Reveal())

	_, err := impl.Configure(ctx, "gateway", map[string]any{"prefx": "x"})
	fmt.Println(err != nil)
	// Output:
	// greeter 1.0.0 bearer tok-for-gateway
	// true
}
