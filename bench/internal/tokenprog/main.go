// Command tokenprog is the plugin side of the plugin-fetch benchmark and of
// the footprint benchmark: a byokcred credential plugin (plugins/sdk) that
// mints tokens with the token logic of bench/internal/tokenexec (package
// tokenlogic), served for as long as the host keeps the process running.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/byokcred/byokcred/bench/internal/tokenlogic"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "tokenprog", Version: sdk.BuildVersion()}, nil
}

func (plugin) Configure(_ context.Context, providerName string, config map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(config)
	subject := c.String("subject", providerName)
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("tokenprog: %w", err)
	}
	return source{subject: subject}, nil
}

type source struct{ subject string }

func (s source) Token(ctx context.Context) (*credential.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	value, exp := tokenlogic.Mint(s.subject, time.Now())
	return &credential.Token{Value: credential.NewSecret(value), Kind: credential.KindBearer, Expiry: exp}, nil
}
