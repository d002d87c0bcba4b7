// Package oauth2 is the byokcred credential plugin for the OAuth 2.0 client
// credentials grant (RFC 6749 §4.4), through
// golang.org/x/oauth2/clientcredentials.
//
// Config keys (unknown keys are errors):
//
//	token_url           string, required. Must be https, except for a
//	                    loopback host (localhost, 127.0.0.0/8, ::1).
//	client_id           string, required.
//	client_secret       string; or
//	client_secret_file  path of a file holding the secret (not readable by
//	                    group or others; re-read on every fetch so that the
//	                    secret can be rotated). Exactly one of the two.
//	scopes              list of strings.
//	audience            string, sent as the `audience` parameter (Auth0,
//	                    Okta and others want it).
//	auth_style          auto (default: try HTTP Basic, then form params) |
//	                    header (HTTP Basic) | params (client_id and
//	                    client_secret in the form body).
//	grant               client_credentials (default) | token_exchange:
//	                    RFC 8693 token exchange of each session's user token
//	                    (the host's auth block sets per_user: true; the
//	                    user's token arrives as the protocol's subject_token).
//	subject_token_type  token_exchange only; default
//	                    urn:ietf:params:oauth:token-type:access_token.
//	requested_token_type, resource
//	                    token_exchange only, optional; sent as is.
//
// Every Token call requests a new token: the host caches. The expiry is the
// response's expires_in (none when absent), and an Entra-style refresh_in
// becomes the refresh hint. Errors name the endpoint, the HTTP status and the
// RFC 6749 error code and description, never the client secret.
package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/plugins/internal/redact"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
	"github.com/byokcred/byokcred/secretfile"
)

// Options configures a [Source].
type Options struct {
	TokenURL         string
	ClientID         string
	ClientSecret     credential.Secret
	ClientSecretFile string
	Scopes           []string
	Audience         string
	AuthStyle        xoauth2.AuthStyle
	// Exchange, when set, makes the source an RFC 8693 token exchange of
	// users' tokens (see ExchangeSource).
	Exchange *ExchangeOptions
	// HTTPClient defaults to one with a 30 s timeout that honours the
	// plugin's HTTPS_PROXY/NO_PROXY.
	HTTPClient *http.Client
}

// Source fetches a token per call.
type Source struct {
	opts Options

	mu     sync.Mutex
	conf   *clientcredentials.Config
	secret string // the secret conf was built with
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource checks opts.
func NewSource(opts Options) (*Source, error) {
	if err := checkTokenURL(opts.TokenURL); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		return nil, errors.New("oauth2: client_id is required")
	}
	if opts.ClientSecret.IsZero() == (opts.ClientSecretFile == "") {
		return nil, errors.New("oauth2: set exactly one of client_secret and client_secret_file")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Timeout:   30 * time.Second,
			Transport: http.DefaultTransport,
		}
	}
	s := &Source{opts: opts}
	if _, err := s.config(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkTokenURL refuses a token endpoint that would send the client secret
// in clear text over a network.
func checkTokenURL(raw string) error {
	if raw == "" {
		return errors.New("oauth2: token_url is required")
	}
	if err := endpoint.Check(raw); err != nil {
		return fmt.Errorf("oauth2: token_url: %w", err)
	}
	return nil
}

// config returns the clientcredentials config for the current secret,
// re-reading the secret file and rebuilding the config when it changed.
// The config is kept between calls for its cache of the detected auth style.
func (s *Source) config() (*clientcredentials.Config, error) {
	secret := s.opts.ClientSecret
	if s.opts.ClientSecretFile != "" {
		fi, err := os.Stat(s.opts.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("oauth2: client_secret_file: %w", err)
		}
		if secret, err = secretfile.Read(s.opts.ClientSecretFile, fi, nil); err != nil {
			return nil, fmt.Errorf("oauth2: client_secret_file: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conf == nil || s.secret != secret.Reveal() {
		s.conf = &clientcredentials.Config{
			ClientID:     s.opts.ClientID,
			ClientSecret: secret.Reveal(),
			TokenURL:     s.opts.TokenURL,
			Scopes:       s.opts.Scopes,
			AuthStyle:    s.opts.AuthStyle,
		}
		if s.opts.Audience != "" {
			s.conf.EndpointParams = url.Values{"audience": {s.opts.Audience}}
		}
		s.secret = secret.Reveal()
	}
	return s.conf, nil
}

// Token requests a token from the endpoint.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
	conf, err := s.config()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	t, err := conf.Token(context.WithValue(ctx, xoauth2.HTTPClient, s.opts.HTTPClient))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("oauth2: token request to %s: %w", s.opts.TokenURL, ctx.Err())
		}
		return nil, s.describe(err, conf.ClientSecret)
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("oauth2: token response from %s has no access_token", s.opts.TokenURL)
	}
	tok := &credential.Token{
		Value:  credential.NewSecret(t.AccessToken),
		Kind:   credential.KindBearer,
		Expiry: t.Expiry,
	}
	if d, ok := seconds(t.Extra("refresh_in")); ok && d > 0 {
		tok.RefreshAt = now.Add(d)
	}
	return tok, nil
}

// describe turns a fetch error into one that names the endpoint and status
// without the response body (unless the server sent no RFC 6749 error code,
// in which case the start of the body, redacted, is the only clue).
func (s *Source) describe(err error, secret string) error {
	var re *xoauth2.RetrieveError
	if errors.As(err, &re) {
		status := "no response"
		if re.Response != nil {
			status = re.Response.Status
		}
		msg := fmt.Sprintf("oauth2: token request to %s failed: %s", s.opts.TokenURL, status)
		switch {
		case re.ErrorCode != "":
			msg += fmt.Sprintf(": error %q", re.ErrorCode)
			if re.ErrorDescription != "" {
				msg += fmt.Sprintf(" (%s)", redact.Truncate(re.ErrorDescription, 300))
			}
		case len(re.Body) > 0:
			msg += fmt.Sprintf(": body %q", redact.Truncate(redact.Redact(string(re.Body), secret), 200))
		}
		return errors.New(redact.Redact(msg, secret))
	}
	return fmt.Errorf("oauth2: token request to %s: %s", s.opts.TokenURL, redact.Redact(err.Error(), secret))
}

// seconds reads a JSON number or numeric string of seconds.
func seconds(v any) (time.Duration, bool) {
	switch x := v.(type) {
	case float64:
		return time.Duration(x * float64(time.Second)), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return time.Duration(n) * time.Second, err == nil
	}
	return 0, false
}

// Grant types and token types of RFC 8693.
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// ExchangeOptions are the RFC 8693 parameters besides the subject token.
type ExchangeOptions struct {
	SubjectTokenType   string // default TokenTypeAccess
	RequestedTokenType string
	Resource           string
}

// ExchangeSource exchanges each user's token for one minted on the user's
// behalf (RFC 8693 §2.1). It implements shared.SubjectSource, so the
// plugin announces its config as per-user.
type ExchangeSource struct {
	*Source
}

var _ shared.SubjectSource = ExchangeSource{}

// Token refuses: an exchange has no identity of its own to serve.
func (e ExchangeSource) Token(context.Context) (*credential.Token, error) {
	return nil, errors.New("oauth2: grant token_exchange needs the user's token; the host sent none")
}

// TokenFor exchanges subject, the user's token.
func (e ExchangeSource) TokenFor(ctx context.Context, subject credential.Secret) (*credential.Token, error) {
	if subject.IsZero() {
		return e.Token(ctx)
	}
	conf, err := e.config()
	if err != nil {
		return nil, err
	}
	x := e.opts.Exchange
	params := url.Values{
		"grant_type":         {GrantTokenExchange},
		"subject_token":      {subject.Reveal()},
		"subject_token_type": {x.SubjectTokenType},
	}
	if e.opts.Audience != "" {
		params.Set("audience", e.opts.Audience)
	}
	if x.RequestedTokenType != "" {
		params.Set("requested_token_type", x.RequestedTokenType)
	}
	if x.Resource != "" {
		params.Set("resource", x.Resource)
	}
	// A config per call: the subject differs per user, and the shared
	// config's auth-style cache must not be copied.
	call := &clientcredentials.Config{
		ClientID: conf.ClientID, ClientSecret: conf.ClientSecret, TokenURL: conf.TokenURL,
		Scopes: conf.Scopes, AuthStyle: conf.AuthStyle, EndpointParams: params,
	}
	t, err := call.Token(context.WithValue(ctx, xoauth2.HTTPClient, e.opts.HTTPClient))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("oauth2: token exchange at %s: %w", e.opts.TokenURL, ctx.Err())
		}
		return nil, errors.New(redact.Redact(e.describe(err, conf.ClientSecret).Error(), subject.Reveal()))
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("oauth2: token exchange response from %s has no access_token", e.opts.TokenURL)
	}
	return &credential.Token{Value: credential.NewSecret(t.AccessToken), Kind: credential.KindBearer, Expiry: t.Expiry}, nil
}

// Plugin is the oauth2 credential plugin.
type Plugin struct{}

var _ shared.Credential = Plugin{}

// Describe implements shared.Credential.
func (Plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "oauth2", Version: sdk.BuildVersion()}, nil
}

// Configure implements shared.Credential.
func (Plugin) Configure(_ context.Context, _ string, config map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(config)
	opts := Options{
		TokenURL:         c.String("token_url", sdk.Required),
		ClientID:         c.String("client_id", sdk.Required),
		ClientSecret:     credential.NewSecret(c.String("client_secret", "")),
		ClientSecretFile: c.String("client_secret_file", ""),
		Scopes:           c.StringSlice("scopes"),
		Audience:         c.String("audience", ""),
	}
	grant := c.OneOf("grant", "client_credentials", "client_credentials", "token_exchange")
	exchange := &ExchangeOptions{
		SubjectTokenType:   c.String("subject_token_type", TokenTypeAccess),
		RequestedTokenType: c.String("requested_token_type", ""),
		Resource:           c.String("resource", ""),
	}
	if grant == "token_exchange" {
		opts.Exchange = exchange
	} else {
		for _, k := range []string{"subject_token_type", "requested_token_type", "resource"} {
			if _, ok := config[k]; ok {
				return nil, fmt.Errorf("oauth2: config key %q applies to grant token_exchange", k)
			}
		}
	}
	switch c.OneOf("auth_style", "auto", "auto", "header", "params") {
	case "header":
		opts.AuthStyle = xoauth2.AuthStyleInHeader
	case "params":
		opts.AuthStyle = xoauth2.AuthStyleInParams
	default:
		opts.AuthStyle = xoauth2.AuthStyleAutoDetect
	}
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("oauth2: %w", err)
	}
	src, err := NewSource(opts)
	if err != nil || opts.Exchange == nil {
		return src, err
	}
	return ExchangeSource{src}, nil
}
