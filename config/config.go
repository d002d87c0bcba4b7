// Package config reads byokcred's YAML file: strict decoding with a position
// for every key, ${VAR} expansion, and validation of everything that is not
// specific to an auth type (the registry package decodes `auth:` blocks).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/internal/lazyre"
)

// MaxFileSize bounds the config file; a real one is a few kilobytes.
const MaxFileSize = 1 << 20

// DefaultTokenTimeout bounds one credential fetch made for a model request
// when the config sets no token_timeout. The Copilot runtime gives its token
// callback no deadline of its own.
const DefaultTokenTimeout = 30 * time.Second

// Provider types the Copilot runtime understands.
const (
	TypeOpenAI    = "openai"
	TypeAzure     = "azure"
	TypeAnthropic = "anthropic"
)

// Config is a decoded config file.
type Config struct {
	// DefaultProvider is used when a command names no provider. Optional when
	// there is exactly one provider.
	DefaultProvider string `yaml:"default_provider"`
	// TokenTimeout bounds each credential fetch made for a model request.
	TokenTimeout time.Duration `yaml:"token_timeout"`
	// RefreshOnRejection routes the runtime's model requests through
	// byokcred (the SDK's request handler) so that a 401 drops the rejected
	// token and the runtime's retry gets a fresh one. A library program
	// starts its runtime with its session factory's RequestHandler for it;
	// without, the factory refuses the config.
	RefreshOnRejection bool `yaml:"refresh_on_rejection"`
	// Providers by name.
	Providers map[string]*Provider `yaml:"providers"`
	// Plugins are external credential plugin processes, by name; providers
	// use them with auth.type: plugin.
	Plugins map[string]*Plugin `yaml:"plugins"`
	// Models lists selectable models for multi-provider sessions. A
	// provider's own `model` is selectable too, as provider/model.
	Models []*Model `yaml:"models"`
	// DefaultModel is the provider-qualified model ("provider/id") a
	// multi-provider session starts with; ${VAR} expands.
	DefaultModel string `yaml:"default_model" byok:"expand"`

	// Doc holds positions and problems; the registry adds its own.
	Doc *Doc `yaml:"-"`
}

// Provider is one model endpoint and how to authenticate to it.
type Provider struct {
	// Name is the key under `providers:`.
	Name string `yaml:"-"`
	// Type is openai, azure or anthropic.
	Type string `yaml:"type"`
	// BaseURL is the endpoint; ${VAR} expands.
	BaseURL string `yaml:"base_url" byok:"expand"`
	// WireAPI is completions or responses (openai and azure only).
	WireAPI string `yaml:"wire_api"`
	// APIVersion selects Azure's deployment-style routes when set: a dated
	// version (2024-10-21, 2025-04-01-preview), or preview or latest;
	// ${VAR} expands.
	APIVersion string `yaml:"api_version" byok:"expand"`
	// Model is the model id sent for this provider; ${VAR} expands.
	Model string `yaml:"model" byok:"expand"`
	// WireModel is the provider-side name (an Azure deployment), when it
	// differs from Model; ${VAR} expands.
	WireModel string `yaml:"wire_model" byok:"expand"`
	// Headers are extra request headers; values expand ${VAR}. Names are
	// HTTP tokens; values, once expanded, visible ASCII with inner spaces.
	Headers map[string]string `yaml:"headers" byok:"expand"`
	// Auth is the raw `auth:` block, decoded by the registry according to
	// its `type:`.
	Auth *yaml.Node `yaml:"auth"`

	// baseURLVars and headerVars say which parts of BaseURL and of each
	// header value came from environment variables.
	baseURLVars []endpoint.Span
	headerVars  map[string][]endpoint.Span
}

// BaseURLVars returns which parts of BaseURL came from which environment
// variable (nil when none did, or the provider was not loaded from a file).
func (p *Provider) BaseURLVars() []endpoint.Span { return p.baseURLVars }

// HeaderVars returns which parts of the value of header name came from
// which environment variable.
func (p *Provider) HeaderVars(name string) []endpoint.Span { return p.headerVars[name] }

// ShownBaseURL returns BaseURL fit for printing: query values, and every
// part beyond the host that came from an environment variable, are hidden
// (see endpoint.RedactVars).
func (p *Provider) ShownBaseURL() string { return endpoint.RedactVars(p.BaseURL, p.baseURLVars) }

// CredentialHeader returns the header that carries a credential of kind to
// a provider of type typ: `Authorization` (as a Bearer token) for every
// bearer token and for openai-type API keys, `Api-Key` for azure API keys,
// `X-Api-Key` for anthropic API keys. It is the mapping the Copilot runtime
// applies to the SDK's provider config, and the one place byokcred states it
// (the session factory and the proxy both follow it).
func CredentialHeader(typ string, kind credential.Kind) string {
	if kind == credential.KindAPIKey {
		switch typ {
		case TypeAzure:
			return "Api-Key"
		case TypeAnthropic:
			return "X-Api-Key"
		}
	}
	return "Authorization"
}

// CredentialHeader returns the header that carries a credential of kind to
// this provider (see the function CredentialHeader).
func (p *Provider) CredentialHeader(kind credential.Kind) string {
	return CredentialHeader(p.Type, kind)
}

// Plugin is one entry of `plugins:`: one plugin process, shared by every
// provider that uses it.
type Plugin struct {
	// Name is the key under `plugins:`.
	Name string `yaml:"-"`
	// Command is the plugin binary. A relative path with a slash is taken
	// relative to the config file's directory.
	Command string `yaml:"command" byok:"expand"`
	// Args are the plugin's command-line arguments, passed as written
	// (no ${VAR} expansion: an argument may be shell text for the plugin).
	Args []string `yaml:"args" byok:"verbatim"`
	// SHA256 pins the binary: on a mismatch it is never started.
	SHA256 string `yaml:"sha256"`
	// Env is the plugin's whole environment (it does not inherit ours).
	Env map[string]string `yaml:"env" byok:"expand"`
	// StartTimeout bounds the plugin's start and handshake (default 10s).
	StartTimeout time.Duration `yaml:"start_timeout"`
	// CallTimeout bounds each call to the plugin, such as one token fetch
	// (default 10s).
	CallTimeout time.Duration `yaml:"call_timeout"`
}

// Model is one entry of `models:`.
type Model struct {
	// ID is the provider-local model id, unique within its provider;
	// ${VAR} expands.
	ID string `yaml:"id" byok:"expand"`
	// Provider names the provider that serves the model.
	Provider string `yaml:"provider"`
	// WireModel is the provider-side name (an Azure deployment); ${VAR}
	// expands.
	WireModel string `yaml:"wire_model" byok:"expand"`
	// Name is a display name.
	Name string `yaml:"name"`
	// MaxPromptTokens overrides the runtime's prompt token limit for
	// this model.
	MaxPromptTokens int `yaml:"max_prompt_tokens"`
	// MaxOutputTokens overrides the runtime's output token limit for this
	// model.
	MaxOutputTokens int `yaml:"max_output_tokens"`
}

// Ref returns the provider-qualified id, provider/id.
func (m *Model) Ref() string { return m.Provider + "/" + m.ID }

// AllModels returns every selectable model: the `models:` entries, then each
// provider's own `model` (unless listed already), sorted by provider/id.
func (c *Config) AllModels() []*Model {
	seen := map[string]bool{}
	var out []*Model
	for _, m := range c.Models {
		if m != nil && !seen[m.Ref()] {
			seen[m.Ref()] = true
			out = append(out, m)
		}
	}
	for _, name := range c.Names() {
		p := c.Providers[name]
		m := &Model{ID: p.Model, Provider: name, WireModel: p.WireModel}
		if p.Model != "" && !seen[m.Ref()] {
			seen[m.Ref()] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref() < out[j].Ref() })
	return out
}

// FindModel returns the model with the provider-qualified id ref.
func (c *Config) FindModel(ref string) (*Model, bool) {
	for _, m := range c.AllModels() {
		if m.Ref() == ref {
			return m, true
		}
	}
	return nil, false
}

// ModelRefs returns every selectable provider/id, sorted.
func (c *Config) ModelRefs() []string {
	var refs []string
	for _, m := range c.AllModels() {
		refs = append(refs, m.Ref())
	}
	return refs
}

// Path returns the config key path of the provider, for error messages.
func (p *Provider) Path() string { return "providers." + p.Name }

// AuthType returns the `type:` of the auth block, or "".
func (p *Provider) AuthType() string {
	if p.Auth == nil || p.Auth.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(p.Auth.Content); i += 2 {
		if p.Auth.Content[i].Value == "type" {
			return p.Auth.Content[i+1].Value
		}
	}
	return ""
}

// Names returns the provider names, sorted.
func (c *Config) Names() []string {
	return slices.Sorted(maps.Keys(c.Providers))
}

// Load reads, decodes and validates path. Every problem in the file is in
// the error, as a list of FILE:LINE:COL lines (see ErrorList).
//
// When the file is YAML but has problems, Load returns the partly decoded
// config along with the error: the registry checks the auth blocks of that
// config too and adds its problems to the same list (cfg.Doc), so that a
// user sees every problem at once. Other callers should treat a non-nil
// error as fatal.
func Load(path string, lookup func(string) (string, bool)) (*Config, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise block until a
	// writer appears, in a system call no signal interrupts. What was
	// opened is checked, not the path, so a swap in between changes nothing.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notExistError{path}
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config: %s is not a regular file (%s); pass the path of a YAML file", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return Parse(path, data, lookup)
}

var yamlLine = lazyre.New(`^yaml: line (\d+): (.*)$`)

// emptyDocument reports a document with nothing in it (a trailing ---).
func emptyDocument(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return true
	}
	c := n.Content[0]
	return len(n.Content) == 1 && c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == ""
}

// Parse decodes data as the contents of file and validates it, returning
// errors as Load does.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes; refusing it", file, MaxFileSize)
	}
	yamlError := func(err error) error { return syntaxError(file, data, err) }
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && err != io.EOF {
		return nil, yamlError(err)
	}
	// A second document (after ---) would be ignored: a block appended
	// to the file, or two files concatenated, must not silently not count.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, yamlError(err)
	case !emptyDocument(&next):
		return nil, fmt.Errorf("%s:%d:1: a second YAML document starts here (---); byokcred reads one document per file: merge it into the first or remove it", file, next.Line)
	}
	doc := NewDoc(file, lookup)
	cfg := &Config{Doc: doc}
	if len(root.Content) == 0 {
		doc.Errorf("", "file is empty; it needs at least a providers: mapping")
		return cfg, doc.Err()
	}
	doc.Decode(&root, "", cfg)
	for name, p := range cfg.Providers {
		if p == nil {
			cfg.Providers[name] = &Provider{}
			p = cfg.Providers[name]
		}
		p.Name = name
		p.baseURLVars = doc.Vars(p.Path() + ".base_url")
		for k := range p.Headers {
			if spans := doc.Vars(p.Path() + ".headers." + k); spans != nil {
				if p.headerVars == nil {
					p.headerVars = map[string][]endpoint.Span{}
				}
				p.headerVars[k] = spans
			}
		}
	}
	for name, p := range cfg.Plugins {
		if p == nil {
			cfg.Plugins[name] = &Plugin{}
			p = cfg.Plugins[name]
		}
		p.Name = name
		if p.Command != "" && strings.Contains(p.Command, "/") && !filepath.IsAbs(p.Command) {
			p.Command = filepath.Join(filepath.Dir(file), p.Command)
		}
	}
	cfg.validate()
	if cfg.TokenTimeout == 0 {
		cfg.TokenTimeout = DefaultTokenTimeout
	}
	return cfg, doc.Err()
}

// APIVersionPattern is the shape of an Azure OpenAI api_version: a dated
// version (2024-10-21, 2025-04-01-preview), or preview or latest, the
// versions of Azure's v1 API (empty: not set).
const APIVersionPattern = `^([0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?|preview|latest)?$`

// HeaderNamePattern is an HTTP field name (RFC 9110 token: tchar+).
const HeaderNamePattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

var (
	providerName = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	sha256Hex    = lazyre.New(`^[0-9a-fA-F]{64}$`)
	apiVersion   = lazyre.New(APIVersionPattern)
	httpToken    = lazyre.New(HeaderNamePattern)
)

// checkModelName reports a model id or wire model that holds a space, a
// control or an invisible (format) character: such names are printed, by
// copilot-env among others, and sent in request bodies and Azure paths,
// where none is meaningful.
func checkModelName(d *Doc, path, name string) {
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			d.Errorf(path, "%s %s holds a space, a control or an invisible character; model names are single words such as gpt-4.1", path[strings.LastIndexByte(path, '.')+1:], strconv.Quote(name))
			return
		}
	}
}

// UnknownProviderError is the cause of a problem that names a provider the
// file does not configure (models[].provider, default_provider), and
// ErrNoProviders of a file without providers: a program that adds
// providers in code (registry.Options.Providers) withdraws those its
// providers answer (Doc.Withdraw).
type UnknownProviderError struct {
	Name string
}

func (e *UnknownProviderError) Error() string { return fmt.Sprintf("unknown provider %q", e.Name) }

// ErrNoProviders: see UnknownProviderError.
var ErrNoProviders = errors.New("no providers configured")

func (c *Config) validate() {
	d := c.Doc
	if len(c.Providers) == 0 {
		d.Errorf("providers", "%w; add one under providers:", ErrNoProviders)
	}
	if c.DefaultProvider != "" && c.Providers[c.DefaultProvider] == nil {
		d.Errorf("default_provider", "%w (configured: %s)", &UnknownProviderError{c.DefaultProvider}, strings.Join(c.Names(), ", "))
	}
	for name, p := range c.Plugins {
		path := "plugins." + name
		if !providerName.MatchString(name) {
			d.Errorf(path, "plugin name %q: use letters, digits, '_', '-' and '.'", name)
		}
		if p.Command == "" {
			if !d.Failed(path + ".command") {
				d.Errorf(path, "%w", &MissingKeyError{Key: "command", Hint: ": the plugin binary"})
			}
		} else if !d.Failed(path + ".command") {
			checkCommand(d, path+".command", p.Command)
		}
		if p.SHA256 != "" && !sha256Hex.MatchString(p.SHA256) {
			d.Errorf(path+".sha256", "sha256 must be 64 hex digits (the output of sha256sum)")
		}
	}
	listed := map[string]bool{}
	ids := map[string]int{}
	for i, m := range c.Models {
		path := fmt.Sprintf("models[%d]", i)
		if m == nil {
			d.Errorf(path, "empty model entry")
			continue
		}
		if m.ID == "" {
			d.Errorf(path, "%w", &MissingKeyError{Key: "id"})
		}
		switch {
		case m.Provider == "":
			d.Errorf(path, "%w", &MissingKeyError{Key: "provider"})
		case c.Providers[m.Provider] == nil:
			d.Errorf(path+".provider", "%w (configured: %s)", &UnknownProviderError{m.Provider}, strings.Join(c.Names(), ", "))
		}
		if m.ID != "" && m.Provider != "" {
			if first, dup := ids[m.Ref()]; dup {
				d.Errorf(path+".id", "model %q is listed twice for provider %s (first at models[%d])", m.ID, m.Provider, first)
			}
			ids[m.Ref()] = i
		}
		checkModelName(d, path+".id", m.ID)
		checkModelName(d, path+".wire_model", m.WireModel)
		if strings.ContainsFunc(m.Name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
			// `models` and pickers print it: a control character could
			// rewrite the terminal line.
			d.Errorf(path+".name", "name %s holds a control or an invisible character; remove it", strconv.Quote(m.Name))
		}
		if m.MaxPromptTokens < 0 || m.MaxOutputTokens < 0 {
			d.Errorf(path, "token limits must not be negative")
		}
		listed[m.Provider] = true
	}
	for _, name := range c.Names() {
		c.Providers[name].validate(d, listed[name])
	}
	if c.DefaultModel != "" {
		if !strings.Contains(c.DefaultModel, "/") {
			d.Errorf("default_model", "default_model %q must be provider-qualified, provider/id (a bare id would select a Copilot-hosted model)", c.DefaultModel)
		} else if _, ok := c.FindModel(c.DefaultModel); !ok {
			d.Errorf("default_model", "unknown model %q (selectable: %s)", c.DefaultModel, strings.Join(c.ModelRefs(), ", "))
		}
	}
}

func (p *Provider) validate(d *Doc, hasListedModels bool) {
	path := p.Path()
	if !providerName.MatchString(p.Name) {
		d.Errorf(path, "provider name %q: use letters, digits, '_', '-' and '.', starting with a letter or digit (no '/')", p.Name)
	}
	switch p.Type {
	case TypeOpenAI, TypeAzure, TypeAnthropic:
	case "":
		if !d.Failed(path + ".type") {
			d.Errorf(path, "%w", &MissingKeyError{Key: "type", Hint: " (one of: anthropic, azure, openai)"})
		}
	default:
		d.Errorf(path+".type", "unknown provider type %q (one of: anthropic, azure, openai)", p.Type)
	}
	switch p.WireAPI {
	case "", "completions", "responses":
		if p.WireAPI != "" && p.Type == TypeAnthropic {
			d.Errorf(path+".wire_api", "wire_api applies to openai and azure providers only; remove it")
		}
	default:
		d.Errorf(path+".wire_api", "unknown wire_api %q (one of: completions, responses)", p.WireAPI)
	}
	if p.APIVersion != "" && p.Type != TypeAzure && p.Type != "" {
		d.Errorf(path+".api_version", "api_version applies to azure providers only; remove it")
	} else if p.APIVersion != "" && !apiVersion.MatchString(p.APIVersion) {
		d.Errorf(path+".api_version", "api_version %s is not an Azure OpenAI API version: use a date such as 2024-10-21 or 2025-04-01-preview, or preview or latest", strconv.Quote(p.APIVersion))
	}
	checkModelName(d, path+".model", p.Model)
	checkModelName(d, path+".wire_model", p.WireModel)
	if p.Model == "" && !hasListedModels && !d.Failed(path+".model") {
		d.Errorf(path, "%w", &MissingKeyError{Key: "model", Hint: ": the model id to send (or list the provider's models under models:)"})
	}
	if d.Failed(path + ".base_url") {
		// already reported (for example an unset variable)
	} else if p.BaseURL == "" {
		if !d.Has(path + ".base_url") {
			d.Errorf(path, "%w", &MissingKeyError{Key: "base_url"})
		} else {
			d.Errorf(path+".base_url", "base_url is empty")
		}
	} else if err := endpoint.Check(p.BaseURL); err != nil {
		d.Errorf(path+".base_url", "%v", err)
	} else if suffix := endpointSuffix(p.BaseURL); suffix != "" {
		d.Errorf(path+".base_url", "base_url ends in the endpoint path %s, which the runtime appends itself (requests would go to …%s%s): remove %s from base_url", suffix, suffix, suffix, suffix)
	} else if p.Type == TypeAnthropic && strings.HasSuffix(strings.TrimRight(p.BaseURL, "/"), "/v1") {
		d.Errorf(path+".base_url", "for anthropic leave /v1 out of base_url: the runtime appends /v1/messages")
	}
	for _, k := range slices.Sorted(maps.Keys(p.Headers)) {
		hpath := path + ".headers." + k
		switch {
		case !httpToken.MatchString(k):
			d.Errorf(hpath, "header name %s is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~ (no spaces)", strconv.Quote(k))
		case strings.EqualFold(k, "authorization") || strings.EqualFold(k, "api-key") || strings.EqualFold(k, "x-api-key"):
			d.Errorf(hpath, "credential header %q in headers: configure the credential under auth: instead", k)
		case d.Failed(hpath):
			// already reported (an unset variable, an oversized value)
		default:
			// Checked after expansion: a variable may bring a line break
			// that would add a header line (copilot-env's
			// COPILOT_PROVIDER_HEADERS is one header per line) or make
			// every request fail. The value is never shown.
			if err := credential.CheckHeaderValue(p.Headers[k], credential.KindAPIKey); err != nil {
				from := ""
				if spans := d.Vars(hpath); len(spans) > 0 {
					from = " (from " + spanNames(spans) + ")"
				}
				d.Errorf(hpath, "value of header %s%s: %v; header values are visible ASCII with spaces inside only", k, from, err)
			}
		}
	}
	if p.Auth == nil && !d.code && !d.Failed(path+".auth") {
		d.Errorf(path, "%w", &MissingKeyError{Key: "auth", Hint: ": how to authenticate (for example auth: {type: static, api_key_env: MY_KEY})"})
	}
}

// checkCommand reports a plugin binary that cannot be started: a path
// (resolved against the config's directory) that is not an executable
// file, or a bare name not in PATH. It is a problem of the machine
// (validate --offline skips it), found here rather than at the first
// token request.
func checkCommand(d *Doc, path, command string) {
	if !strings.Contains(command, "/") {
		if _, err := exec.LookPath(command); err != nil {
			d.EnvErrorf(path, "plugin binary %q is not in PATH; give its path (relative to this file's directory) or install it", command)
		}
		return
	}
	fi, err := os.Stat(command)
	switch {
	case err != nil:
		d.EnvErrorf(path, "plugin binary %s does not exist; build or install it, or fix the path", command)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		d.EnvErrorf(path, "plugin binary %s is not an executable file", command)
	}
}

// endpointSuffix returns the request path a base URL wrongly ends in
// (/chat/completions, /responses, /v1/messages …), or "". The runtime
// appends these itself; from an API's docs it is easy to copy the full
// endpoint URL instead of the base.
func endpointSuffix(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := strings.TrimRight(u.Path, "/")
	for _, s := range []string{"/v1/messages", "/messages", "/chat/completions", "/completions", "/responses"} {
		if strings.HasSuffix(p, s) {
			return s
		}
	}
	return ""
}
