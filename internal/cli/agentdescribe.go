package cli

import (
	"context"
	"slices"
	"strings"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// agentDescribe answers the agent's provider requests (agent.OpProvider)
// from live's providers: what the TypeScript client needs to build the SDK
// provider config the Go session factory builds, and no secret. A
// credential is fetched, through the cache, to learn its kind (which header
// it goes in) and so that a broken credential fails when the client builds
// its config, as session.Factory.SessionConfig does, not on the first
// model request.
func agentDescribe(live registry.Providers) func(ctx context.Context, name string) (*agent.ProviderInfo, credential.Kind, string, error) {
	factory := session.NewFactory(live, session.Options{})
	return func(ctx context.Context, name string) (*agent.ProviderInfo, credential.Kind, string, error) {
		set, release := registry.Acquire(live)
		defer release()
		p, err := set.Provider(name)
		if err != nil {
			return nil, 0, "", &agent.Error{Code: agent.CodeProvider, Msg: err.Error()}
		}
		tok, err := factory.Token(ctx, p)
		if err != nil {
			return nil, 0, "", err
		}
		return describeProvider(p, tok.Kind), tok.Kind, p.Name, nil
	}
}

// describeProvider is p's description for a client. Header values written
// in the config file are sent; a value with any part from an environment
// variable may be a secret (a subscription key), and so may any header
// whose name says it carries a credential: those are named in
// WithheldHeaders, never sent.
func describeProvider(p *registry.Provider, kind credential.Kind) *agent.ProviderInfo {
	info := &agent.ProviderInfo{
		Type: p.Type, BaseURL: p.BaseURL, WireAPI: p.WireAPI, Model: p.Model, WireModel: p.WireModel,
		APIVersion: p.APIVersion, CredentialHeader: p.CredentialHeader(kind), Refresh: p.Refresh,
	}
	for name, value := range p.Headers {
		if len(p.HeaderVars(name)) > 0 || credentialHeaderName(name) {
			info.WithheldHeaders = append(info.WithheldHeaders, name)
			continue
		}
		if info.Headers == nil {
			info.Headers = map[string]string{}
		}
		info.Headers[name] = value
	}
	slices.Sort(info.WithheldHeaders)
	return info
}

// credentialHeaderName reports whether a header's name says it carries a
// credential (Authorization, Api-Key, Ocp-Apim-Subscription-Key, Cookie…).
func credentialHeaderName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "cookie", "password", "signature", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
