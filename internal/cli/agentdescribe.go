package cli

import (
	"context"
	"slices"
	"strings"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
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

// describeProvider is p's description for a client. A part of the base URL
// beyond scheme://host[:port], or of a header value, that came from an
// environment variable may be a secret (?code=${FN_KEY}, a subscription
// key): it is sent as ${NAME}, for the client to expand from its own
// environment, as copilot-env leaves such parts to the shell. A header
// written in the file whose name says it carries a credential is named in
// WithheldHeaders, its value never sent.
func describeProvider(p *registry.Provider, kind credential.Kind) *agent.ProviderInfo {
	info := &agent.ProviderInfo{
		Type: p.Type, BaseURL: template(p.BaseURL, p.BaseURLVars(), endpoint.HostEnd(p.BaseURL)), WireAPI: p.WireAPI,
		Model: p.Model, WireModel: p.WireModel, APIVersion: p.APIVersion,
		CredentialHeader: p.CredentialHeader(kind), Refresh: p.Refresh,
	}
	for name, value := range p.Headers {
		vars := p.HeaderVars(name)
		if len(vars) == 0 && endpoint.SensitiveHeader(name) {
			info.WithheldHeaders = append(info.WithheldHeaders, name)
			continue
		}
		if info.Headers == nil {
			info.Headers = map[string]string{}
		}
		info.Headers[name] = template(value, vars, 0)
	}
	slices.Sort(info.WithheldHeaders)
	return info
}

// template is raw with each part that came from an environment variable
// (spans, as the config loader records them) written as ${NAME}, except a
// part wholly within raw[:keep], and every other `$` written as `$$`: the
// config's own syntax, so the client can tell the two apart.
func template(raw string, spans []endpoint.Span, keep int) string {
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.Start < at || sp.End > len(raw) || sp.End <= sp.Start || sp.End <= keep {
			continue // overlapping, out of range, or kept as it is
		}
		b.WriteString(strings.ReplaceAll(raw[at:sp.Start], "$", "$$"))
		b.WriteString("${" + sp.Name + "}")
		at = sp.End
	}
	b.WriteString(strings.ReplaceAll(raw[at:], "$", "$$"))
	return b.String()
}
