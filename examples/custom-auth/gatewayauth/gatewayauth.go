// Package gatewayauth is an example credential kind in a package of its
// own: `auth.type: gateway` gets short-lived bearer tokens from an internal
// gateway's token endpoint (an OAuth2 client-credentials POST). It is built
// the way byokcred's own kinds under auth/ are: a config struct that
// decodes, validates and builds its source, registered from init.
// Importing the package is all a program (or a custom byokcred build)
// needs to do to accept `type: gateway` in its config.
package gatewayauth

//go:generate go run github.com/byokcred/byokcred/schema/fielddocs -type Auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/kind"
)

func init() {
	kind.Register("gateway", func() kind.AuthConfig { return new(Auth) })
}

// Auth is the `auth:` block of `type: gateway`.
type Auth struct {
	// TokenURL is the gateway's token endpoint (https, or http to loopback).
	TokenURL string `yaml:"token_url" byok:"expand"`
	// ClientID identifies this agent to the gateway.
	ClientID string `yaml:"client_id"`
	// ClientSecretEnv names the environment variable holding the secret.
	ClientSecretEnv string `yaml:"client_secret_env"`
}

var _ kind.AuthConfig = (*Auth)(nil)

// Validate implements kind.AuthConfig: every problem, at its key.
func (a *Auth) Validate(b *kind.Build) {
	if a.TokenURL == "" {
		b.Errorf("", `missing key "token_url"`)
	} else if err := endpoint.Check(a.TokenURL); err != nil {
		b.Errorf("token_url", "%v", err)
	}
	if a.ClientID == "" {
		b.Errorf("", `missing key "client_id"`)
	}
	if a.ClientSecretEnv == "" {
		b.Errorf("", `missing key "client_secret_env"`)
	} else if v, ok := b.LookupEnv(a.ClientSecretEnv); !ok || v == "" {
		// A problem of the environment, not of the file: `validate
		// --offline` (CI without the production secrets) skips it.
		b.EnvErrorf("client_secret_env", "environment variable %s is not set", a.ClientSecretEnv)
	}
}

// Source implements kind.AuthConfig. The registry wraps the source in
// a credential.Cache, so it fetches only when a token is due.
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	secret, _ := b.LookupEnv(a.ClientSecretEnv)
	client := b.HTTPClient // the program's (a proxy, a private CA, a test's fake)
	if client == nil {
		client = http.DefaultClient
	}
	src := &source{url: a.TokenURL, clientID: a.ClientID, secret: credential.NewSecret(secret), client: client, now: b.Now}
	return kind.Result{Source: src}, nil
}

type source struct {
	url, clientID string
	secret        credential.Secret
	client        *http.Client
	now           func() time.Time
}

func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.clientID}, "client_secret": {s.secret.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("gatewayauth: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gatewayauth: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("gatewayauth: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// The body is not quoted: a gateway may echo the secret back.
		return nil, fmt.Errorf("gatewayauth: %s answered %s", s.url, resp.Status)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("gatewayauth: %s answered no access_token", s.url)
	}
	tok := &credential.Token{Value: credential.NewSecret(t.AccessToken), Kind: credential.KindBearer}
	if t.ExpiresIn > 0 {
		tok.Expiry = s.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return tok, nil
}
