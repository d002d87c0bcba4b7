package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/scrub"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakebedrock"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// demo is one run of byokcred-demo.
type demo struct {
	// execPlugin is the exec plugin binary, or "" when it is not built.
	execPlugin string
	out        io.Writer
	dir        string
	model      *fakemodel.Server
	idp        *fakeidentity.Server
	// clientID names the demo's user-assigned identity. A fresh one per
	// run also keeps azidentity's process-wide token cache from answering
	// with a token of an earlier run in the same process (tests).
	clientID string
	env      map[string]string
	// http carries the credential kinds' requests (the secret-store leg's
	// fakes); nil: the SDKs' own clients.
	http *http.Client
	rt   *copilotcli.Runtime
	// secrets records what the sessions hand the runtime, to scrub its
	// errors.
	secrets *scrub.Set
	pace    pace
}

// pace is how fast the demo moves: watchingPace for people, a faster one
// in its test, which checks the same output.
type pace struct {
	// identityLifetime is how long the demo's Entra tokens live: short, so
	// that they rotate while you watch.
	identityLifetime time.Duration
	// turnPause is the pause between the turns of the Entra and plugin
	// legs, so that their tokens age.
	turnPause time.Duration
	// clock, when set, is the credential caches' clock, moved past
	// refresh_interval instead of waiting it out; nil: real time.
	clock *aheadClock
	// runtimeCache, when set, is the XDG_CACHE_HOME of the runtime, where
	// it was unpacked before; "": a cache inside the demo's temp dir.
	runtimeCache string
}

var watchingPace = pace{identityLifetime: 6 * time.Second, turnPause: 2500 * time.Millisecond}

// aheadClock is real time moved forward on demand.
type aheadClock struct{ skip atomic.Int64 }

func (c *aheadClock) Now() time.Time       { return time.Now().Add(time.Duration(c.skip.Load())) }
func (c *aheadClock) Skip(d time.Duration) { c.skip.Add(int64(d)) }

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// run runs every leg of the demo, printing to out. pluginDir holds the
// shipped plugins ("": plugins/ beside this executable).
// Every credential handed to the runtime is remembered in secrets, so that
// the caller can scrub them from the runtime's error text.
func run(ctx context.Context, out io.Writer, pluginDir string, secrets *scrub.Set, pace pace) (err error) {
	dir, err := os.MkdirTemp("", "byokcred-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d := &demo{secrets: secrets, out: out, dir: dir, env: map[string]string{}, execPlugin: findPlugin(pluginDir, "exec"),
		clientID: "demo-" + randomHex(8), pace: pace}
	d.model, err = fakemodel.Start(fakemodel.Options{Reply: "Hello from the loopback model."})
	if err != nil {
		return err
	}
	defer d.model.Close()

	d.idp, err = fakeidentity.Start(fakeidentity.Options{Lifetime: pace.identityLifetime})
	if err != nil {
		return err
	}
	defer d.idp.Close()
	// azidentity reads its managed identity endpoint from the process
	// environment and has no option for it; point it at the loopback fake
	// for the demo's duration. This is why the demo is a program of its own,
	// not a command of the shipped byokcred: nothing else runs in this
	// process.
	defer setenv(d.idp.Env())()

	d.printf("byokcred demo: real Copilot runtime, loopback endpoints, no cloud account\n")
	d.printf("  work dir        %s (removed at the end)\n", dir)
	d.printf("  model endpoint  %s (in-process fake: OpenAI, Azure and Anthropic shapes)\n", d.model.URL)
	d.printf("  identity        %s (in-process fake App Service managed identity, %s tokens)\n\n", d.idp.URL, pace.identityLifetime)

	// The runtime gets a home and cache inside the temp dir, so the demo
	// writes nothing outside it (the first start unpacks the runtime there,
	// which takes a few seconds).
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cache := filepath.Join(home, ".cache")
	if pace.runtimeCache != "" {
		cache = pace.runtimeCache
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CACHE_HOME=" + cache, "TMPDIR=" + dir}
	start := time.Now()
	d.rt, err = copilotcli.Start(ctx, copilotcli.Options{Env: env, BaseDirectory: filepath.Join(dir, "copilot-state")})
	if err != nil {
		return err
	}
	defer d.rt.Close()
	d.printf("  runtime started in %s\n\n", time.Since(start).Round(10*time.Millisecond))

	for _, leg := range []func(context.Context) error{d.staticLeg, d.entraLeg, d.pluginLeg, d.multiLeg, d.threeCloudLeg, d.storesLeg} {
		if err := leg(ctx); err != nil {
			return err
		}
	}
	d.printf("\ndemo finished: every turn answered, every credential reached its endpoint as configured.\n")
	return nil
}

// load writes cfg into the demo dir and loads it.
func (d *demo) load(cfg string) (*registry.Set, error) {
	path := filepath.Join(d.dir, "byokcred.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	opts := registry.Options{HTTPClient: d.http, LookupEnv: func(k string) (string, bool) {
		v, ok := d.env[k]
		return v, ok
	}}
	if d.pace.clock != nil {
		opts.Now = d.pace.clock.Now
	}
	return registry.Load(path, opts)
}

// session opens a tool-free session on the named provider.
func (d *demo) session(ctx context.Context, set *registry.Set, providerName string) (*copilot.Session, error) {
	cfg, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, providerName, session.ToolFree())
	if err != nil {
		return nil, err
	}
	d.secrets.Remember(cfg)
	return d.rt.Client.CreateSession(ctx, cfg)
}

// turn runs one chat turn on a fresh session of the named provider and
// prints each request the endpoint saw.
func (d *demo) turn(ctx context.Context, set *registry.Set, providerName, prompt string) ([]fakemodel.Request, error) {
	d.model.Reset()
	s, err := d.session(ctx, set, providerName)
	if err != nil {
		return nil, err
	}
	defer s.Disconnect()
	reply, err := session.Reply(ctx, s, prompt)
	if err != nil {
		return nil, err
	}
	reqs := d.model.Requests()
	for _, r := range reqs {
		d.printRequest(r)
	}
	d.printf("    ← reply: %q\n", reply)
	return reqs, nil
}

func (d *demo) printRequest(r fakemodel.Request) {
	h, v := r.Credential()
	path := r.Path
	if r.RawQuery != "" {
		path += "?" + r.RawQuery
	}
	d.printf("    → %s %s  %s: %s\n", r.Method, path, h, credential.NewSecret(v).Mask())
}

// expect checks that every request carried want in header.
func expect(reqs []fakemodel.Request, header string, want credential.Secret) error {
	if len(reqs) == 0 {
		return fmt.Errorf("demo: the endpoint saw no request")
	}
	for _, r := range reqs {
		h, v := r.Credential()
		if h != header || v != want.Reveal() {
			return fmt.Errorf("demo: request carried %s %s, want %s %s", h, credential.NewSecret(v).Mask(), header, want.Mask())
		}
	}
	return nil
}

func (d *demo) staticLeg(ctx context.Context) error {
	key := credential.NewSecret("demo-sk-" + randomHex(20))
	keyFile := filepath.Join(d.dir, "openai.key")
	if err := os.WriteFile(keyFile, []byte(key.Reveal()+"\n"), 0o600); err != nil {
		return err
	}
	azureKey := credential.NewSecret("demo-azure-" + randomHex(16))
	d.env["DEMO_AZURE_KEY"] = azureKey.Reveal()
	set, err := d.load(strings.NewReplacer("{{URL}}", d.model.URL, "{{KEYFILE}}", keyFile).Replace(`providers:
  local-openai:
    type: openai
    base_url: {{URL}}/v1
    model: gpt-4.1
    auth: {type: static, api_key_file: {{KEYFILE}}}
  local-azure:
    type: azure
    base_url: {{URL}}
    model: gpt-4.1
    wire_model: my-deployment
    auth: {type: static, api_key_env: DEMO_AZURE_KEY}
`))
	if err != nil {
		return err
	}
	defer set.Close()
	d.printf("[static key] provider local-openai (type openai, key from a 0600 file)\n")
	reqs, err := d.turn(ctx, set, "local-openai", "Say hello.")
	if err != nil {
		return err
	}
	if err := expect(reqs, "Authorization", key); err != nil {
		return err
	}
	d.printf("[static key] provider local-azure (type azure, key from $DEMO_AZURE_KEY)\n")
	reqs, err = d.turn(ctx, set, "local-azure", "Say hello.")
	if err != nil {
		return err
	}
	return expect(reqs, "api-key", azureKey)
}

// entraLeg runs one session for several turns against a loopback managed
// identity endpoint that issues short-lived tokens, and shows each request's
// token rotating underneath the session.
func (d *demo) entraLeg(ctx context.Context) error {
	idp := d.idp
	var rejected atomic.Int64
	model, err := guardedModel("Hello from the Entra-protected loopback model.", idp.CheckRequest, &rejected)
	if err != nil {
		return err
	}
	defer model.Close()
	set, err := d.load(fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    wire_api: responses
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      client_id: %s
`, model.URL, d.clientID))
	if err != nil {
		return err
	}
	defer set.Close()
	d.printf("\n[entra id] provider foundry (type azure, managed identity; tokens live %s)\n", d.pace.identityLifetime)
	s, err := d.session(ctx, set, "foundry")
	if err != nil {
		return err
	}
	defer s.Disconnect()
	const turns = 4
	seen := 0
	last := ""
	for i := 1; i <= turns; i++ {
		if i > 1 {
			time.Sleep(d.pace.turnPause)
		}
		reply, err := session.Reply(ctx, s, fmt.Sprintf("Turn %d: say hello.", i))
		if err != nil {
			return fmt.Errorf("demo: entra turn %d: %w", i, err)
		}
		reqs := model.Requests()
		for _, r := range reqs[seen:] {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			note := ""
			if last != "" && tok != last {
				note = "  (rotated)"
			}
			last = tok
			left := "?"
			if c, ok := credential.ParseClaims(credential.NewSecret(tok)); ok {
				left = c.Expiry.Sub(r.Time).Round(100 * time.Millisecond).String()
			}
			d.printf("    turn %d → %s %s  Bearer %s  valid %s more, status %d%s\n", i, r.Method, r.Path, credential.NewSecret(tok).Mask(), left, r.Status, note)
		}
		seen = len(reqs)
		d.printf("    turn %d ← reply: %q\n", i, reply)
	}
	p, _ := set.Provider("foundry")
	st := p.Cache.Stats()
	d.printf("    identity endpoint minted %d tokens; cache: %d fetches, %d served from memory, %d waits (the cold start); %d requests rejected\n",
		idp.Requests(), st.Fetches, st.Hits, st.Waits, rejected.Load())
	if rejected.Load() != 0 {
		return fmt.Errorf("demo: %d requests carried an invalid token", rejected.Load())
	}
	return nil
}

// multiLeg ends the demo with one session over several providers, each with
// its own endpoint and credential, moving between them turn by turn.
func (d *demo) multiLeg(ctx context.Context) error {
	type endpoint struct {
		name, header string
		srv          *fakemodel.Server
	}
	var eps []*endpoint
	for _, e := range []struct{ name, header string }{{"foundry", "Authorization"}, {"anthropic", "x-api-key"}, {"gateway", "Authorization"}} {
		srv, err := fakemodel.Start(fakemodel.Options{Reply: "Hello from " + e.name + "."})
		if err != nil {
			return err
		}
		defer srv.Close()
		eps = append(eps, &endpoint{e.name, e.header, srv})
	}
	anthropicKey := credential.NewSecret("demo-ant-" + randomHex(16))
	gatewayToken := credential.NewSecret("demo-gw-" + randomHex(16))
	d.env["DEMO_ANTHROPIC_KEY"] = anthropicKey.Reveal()
	d.env["DEMO_GATEWAY_TOKEN"] = gatewayToken.Reveal()
	gatewayAuth, gatewayHow := "{type: static, bearer_token_env: DEMO_GATEWAY_TOKEN}", "static bearer token"
	plugins := ""
	if d.execPlugin != "" {
		gatewayAuth, gatewayHow = `{type: plugin, plugin: printer, config: {command: /bin/echo, args: ["${DEMO_GATEWAY_TOKEN}"], format: raw}}`, "exec plugin"
		plugins = "plugins:\n  printer: {command: " + d.execPlugin + ", env: {PATH: /usr/bin:/bin}}\n"
	}
	set, err := d.load(plugins + fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    auth: {type: entra, credential: managed_identity, client_id: %s}
  anthropic:
    type: anthropic
    base_url: %s
    auth: {type: static, api_key_env: DEMO_ANTHROPIC_KEY}
  gateway:
    type: openai
    base_url: %s/v1
    model: llama-3.3-70b
    auth: %s
models:
  - {id: gpt-4.1, provider: foundry, wire_model: my-gpt41-deployment}
  - {id: claude-sonnet, provider: anthropic}
default_model: foundry/gpt-4.1
`, eps[0].srv.URL, d.clientID, eps[1].srv.URL, eps[2].srv.URL, gatewayAuth))
	if err != nil {
		return err
	}
	defer set.Close()
	factory := session.NewFactory(set, session.Options{})
	cfg, err := factory.MultiSessionConfig(ctx, "", session.ToolFree())
	if err != nil {
		return err
	}
	d.secrets.Remember(cfg)
	d.printf("\n[multi-provider] one session over %d providers: %s\n", len(cfg.Providers), strings.Join(set.Config.ModelRefs(), ", "))
	d.printf("    (foundry: Entra ID; anthropic: static key; gateway: %s)\n", gatewayHow)
	s, err := d.rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Disconnect()
	for i, ref := range []string{"foundry/gpt-4.1", "anthropic/claude-sonnet", "gateway/llama-3.3-70b"} {
		if i > 0 {
			if err := factory.SwitchModel(ctx, s, ref); err != nil {
				return err
			}
		}
		reply, err := session.Reply(ctx, s, "Say hello.")
		if err != nil {
			return fmt.Errorf("demo: turn on %s: %w", ref, err)
		}
		ep := eps[i]
		reqs := ep.srv.Requests()
		if len(reqs) == 0 {
			return fmt.Errorf("demo: %s received no request", ep.name)
		}
		r := reqs[len(reqs)-1]
		h, v := r.Credential()
		if h != ep.header {
			return fmt.Errorf("demo: %s received the credential in %s, want %s", ep.name, h, ep.header)
		}
		d.printf("    %-24s → %s %s  %s: %s  model %s\n", ref, ep.name, r.Path, h, credential.NewSecret(v).Mask(), r.Model)
		d.printf("    %-24s ← reply: %q\n", "", reply)
	}
	// Credential isolation: no endpoint saw another provider's credential.
	for _, ep := range eps {
		for _, r := range ep.srv.Requests() {
			_, v := r.Credential()
			if (ep.name != "anthropic" && v == anthropicKey.Reveal()) || (ep.name != "gateway" && v == gatewayToken.Reveal()) {
				return fmt.Errorf("demo: %s received another provider's credential", ep.name)
			}
		}
	}
	d.printf("    each endpoint saw only its own credential\n")
	return nil
}

// findPlugin returns the shipped plugin binary: in dir when given, else in
// plugins/ beside the running executable (make build puts both in bin/).
func findPlugin(dir, name string) string {
	if dir == "" {
		exe, err := os.Executable()
		if err != nil {
			return ""
		}
		dir = filepath.Join(filepath.Dir(exe), "plugins")
	}
	p := filepath.Join(dir, "byokcred-plugin-"+name)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return ""
	}
	return p
}

// pluginLeg authenticates a session through the exec plugin: a
// long-lived plugin process that runs a token command (here a script that
// prints a Kubernetes ExecCredential with a short expiry), with its tokens in
// the same cache as every other source.
func (d *demo) pluginLeg(ctx context.Context) error {
	if d.execPlugin == "" {
		d.printf("\n[plugin] skipped: bin/plugins/byokcred-plugin-exec is not built (make build builds it)\n")
		return nil
	}
	// The token command is this program itself (see mintToken): a shell
	// script would need GNU date to print an RFC 3339 expiry, and the demo
	// runs on macOS too.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	counter := filepath.Join(d.dir, "minted")
	model, err := fakemodel.Start(fakemodel.Options{Reply: "Hello through a plugin credential."})
	if err != nil {
		return err
	}
	defer model.Close()
	set, err := d.load(fmt.Sprintf(`plugins:
  minter:
    command: %s
    env: {PATH: /usr/bin:/bin}
providers:
  gateway:
    type: openai
    base_url: %s/v1
    model: llama-3.3-70b
    auth:
      type: plugin
      plugin: minter
      config: {command: %s, args: [%s, %s], format: exec_credential}
`, d.execPlugin, model.URL, self, mintTokenArg, counter))
	if err != nil {
		return err
	}
	defer set.Close()
	d.printf("\n[plugin] provider gateway (type openai, exec plugin running a command that prints a Kubernetes ExecCredential; tokens live 6s)\n")
	s, err := d.session(ctx, set, "gateway")
	if err != nil {
		return err
	}
	defer s.Disconnect()
	seen := 0
	for i := 1; i <= 3; i++ {
		if i > 1 {
			time.Sleep(d.pace.turnPause)
		}
		reply, err := session.Reply(ctx, s, "Say hello.")
		if err != nil {
			return fmt.Errorf("demo: plugin turn %d: %w", i, err)
		}
		reqs := model.Requests()
		for _, r := range reqs[seen:] {
			h, v := r.Credential()
			d.printf("    turn %d → %s %s  %s: %s\n", i, r.Method, r.Path, h, credential.NewSecret(v).Mask())
		}
		seen = len(reqs)
		d.printf("    turn %d ← reply: %q\n", i, reply)
	}
	p, _ := set.Provider("gateway")
	st := p.Cache.Stats()
	d.printf("    one plugin process served %d token fetches (the command ran once per fetch, the process stayed up)\n", st.Fetches)
	return nil
}

// setenv sets the process environment for the demo's duration and returns
// the function that puts it back. The cloud SDKs read their endpoints and
// credential settings only from there.
func setenv(env map[string]string) (restore func()) {
	var undo []func()
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		undo = append(undo, func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// threeCloudLeg ends the demo keyless on three clouds in one session: Azure
// AI Foundry with an Entra ID token, Amazon Bedrock with a short-term API key
// minted from AWS container credentials, Vertex AI with a Google access token
// from the metadata server. Each loopback endpoint accepts only its own
// cloud's credential (the Bedrock one recomputes each key's signature).
func (d *demo) threeCloudLeg(ctx context.Context) error {
	creds, err := fakeaws.Start(fakeaws.Options{})
	if err != nil {
		return err
	}
	defer creds.Close()
	bedrock, err := fakebedrock.Start(fakebedrock.Options{Region: "us-east-1", Lookup: creds.Lookup, Reply: "Hello from Bedrock."})
	if err != nil {
		return err
	}
	defer bedrock.Close()
	md, err := fakegcp.Start(fakegcp.Options{Lifetime: time.Hour})
	if err != nil {
		return err
	}
	defer md.Close()
	var refused atomic.Int64
	vertex, err := guardedModel("Hello from Vertex AI.", md.CheckRequest, &refused)
	if err != nil {
		return err
	}
	defer vertex.Close()
	foundry, err := guardedModel("Hello from Foundry.", d.idp.CheckRequest, &refused)
	if err != nil {
		return err
	}
	defer foundry.Close()
	// The AWS and Google SDKs find their credentials as on a real workload:
	// container credentials and a metadata server, here on loopback; their
	// shared files and the gcloud well-known file are empty or absent.
	awsConfig := filepath.Join(d.dir, "aws-config")
	if err := os.WriteFile(awsConfig, nil, 0o600); err != nil {
		return err
	}
	env := map[string]string{"AWS_CONFIG_FILE": awsConfig, "AWS_SHARED_CREDENTIALS_FILE": awsConfig,
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"GOOGLE_APPLICATION_CREDENTIALS": "", "HOME": filepath.Join(d.dir, "home")}
	for k, v := range creds.Env() {
		env[k] = v
	}
	for k, v := range md.Env() {
		env[k] = v
	}
	defer setenv(env)()
	set, err := d.load(fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    auth: {type: entra, credential: managed_identity, client_id: %s}
  bedrock:
    type: openai
    base_url: %s
    auth: {type: aws, region: us-east-1}
  vertex:
    type: openai
    base_url: %s/v1/projects/byok-demo/locations/us-central1/endpoints/openapi
    auth: {type: gcp}
models:
  - {id: gpt-4.1, provider: foundry, wire_model: my-gpt41-deployment}
  - {id: gpt-oss-120b, provider: bedrock, wire_model: openai.gpt-oss-120b-1:0}
  - {id: gemini-flash, provider: vertex, wire_model: google/gemini-2.5-flash}
default_model: foundry/gpt-4.1
`, foundry.URL, d.clientID, bedrock.BaseURL(), vertex.URL))
	if err != nil {
		return err
	}
	defer set.Close()
	factory := session.NewFactory(set, session.Options{})
	cfg, err := factory.MultiSessionConfig(ctx, "", session.ToolFree())
	if err != nil {
		return err
	}
	d.printf("\n[three clouds] one session, no long-lived key anywhere: %s\n", strings.Join(set.Config.ModelRefs(), ", "))
	d.printf("    (foundry: Entra ID managed identity; bedrock: a Bedrock API key signed from AWS container credentials; vertex: a Google token from the metadata server)\n")
	d.secrets.Remember(cfg)
	s, err := d.rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Disconnect()
	for i, step := range []struct {
		ref string
		srv *fakemodel.Server
	}{{"foundry/gpt-4.1", foundry}, {"bedrock/gpt-oss-120b", bedrock.Server}, {"vertex/gemini-flash", vertex}} {
		if i > 0 {
			if err := factory.SwitchModel(ctx, s, step.ref); err != nil {
				return err
			}
		}
		reply, err := session.Reply(ctx, s, "Say hello.")
		if err != nil {
			return fmt.Errorf("demo: turn on %s: %w", step.ref, err)
		}
		reqs := step.srv.Requests()
		if len(reqs) == 0 {
			return fmt.Errorf("demo: %s received no request", step.ref)
		}
		r := reqs[len(reqs)-1]
		h, v := r.Credential()
		d.printf("    %-22s → %s  %s: %s  model %s\n", step.ref, r.Path, h, credential.NewSecret(v).Mask(), r.Model)
		d.printf("    %-22s ← reply: %q\n", "", reply)
	}
	if n := refused.Load() + int64(len(bedrock.Rejected())); n != 0 {
		return fmt.Errorf("demo: %d requests carried a credential their endpoint refused", n)
	}
	d.printf("    every endpoint accepted only its own cloud's credential\n")
	return nil
}

// guardedModel starts a loopback model endpoint that answers reply to
// requests whose credential check accepts and 401 to the others, counting
// them in refused: an endpoint that takes only its own issuer's tokens.
func guardedModel(reply string, check func(*fakemodel.Request) error, refused *atomic.Int64) (*fakemodel.Server, error) {
	return fakemodel.Start(fakemodel.Options{Reply: reply, Check: func(r *fakemodel.Request) int {
		if check(r) != nil {
			refused.Add(1)
			return http.StatusUnauthorized
		}
		return 0
	}})
}
