// Package kindtest checks that a credential kind keeps the promises every
// kind makes to the programs that load it, the way testing/fstest.TestFS
// checks a file system: a kind author calls Run from a test with a block
// that works against the author's fakes, and the kit loads it through the
// registry as a program would and reports each broken promise.
//
// Run checks that
//   - validation does no I/O: the block loads offline (registry.Options
//     Offline) with an empty environment and no files, and loads normally
//     with an HTTP client that refuses every request (403 Forbidden),
//     without a request being made or a credentials file in $HOME being
//     read;
//   - a token fetch honours its context: against an endpoint that never
//     answers, the fetch returns once the context is cancelled (unless the
//     kind fetches nothing: Kind.NoFetch);
//   - concurrent Token calls all succeed (run the test with -race, so the
//     race detector sees them too);
//   - no secret (Kind.Secrets) appears in an error, in the logs, in what
//     the registry's DescribeToken and the kind's Diagnoser and Result.Check
//     say, or in fmt (%v %+v %#v %s) of the token, the kind's source or
//     its decoded config;
//   - an unknown key is refused at its line and column, at the top of the
//     block and in each nested block Valid writes in block style; every
//     Invalid block is refused with positions.
//
// RunStore checks a secret store the same way, through a reference to a
// secret that the static kind reads from it (api_key_secret), and checks
// that the store is registered and that problems in a reference are
// reported inside it.
//
// Run and RunStore set HOME (and XDG_CONFIG_HOME) for the test, so they
// cannot be used in a parallel test.
package kindtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	// A store is read through static's api_key_secret.
	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// Kind describes the credential kind under test.
type Kind struct {
	// Type is the kind's auth type, as registered (`auth.type`).
	Type string
	// Valid is an auth block (YAML in block style, without `type:` and
	// without indentation) that loads and gives a token with Env, Files and
	// HTTPClient.
	Valid string
	// Invalid are auth blocks (as Valid) the kind must refuse at load, each
	// problem at its position. They may hold secrets: the errors must not.
	Invalid []string
	// Provider is the provider's keys other than `auth` (YAML, block style,
	// not indented). Default: an openai provider at
	// https://models.example/v1.
	Provider string
	// Config is more of the config file (YAML, top-level sections other
	// than providers, such as the `plugins:` a plugin kind refers to).
	Config string
	// Env is the whole environment the kind sees (registry.Options
	// LookupEnv); the process environment is not consulted.
	Env map[string]string
	// Files are written beside the config file (name → content, mode 0600)
	// for blocks that name files; the offline load is given none of them.
	Files map[string]string
	// HTTPClient reaches the fakes Valid names (registry.Options
	// HTTPClient).
	HTTPClient *http.Client
	// Secrets are canaries: the distinctive values of every key, token or
	// secret the kind handles in these blocks (those in Env, Files, the
	// fakes' answers). None may appear in any output.
	Secrets []string
	// Stall is the auth block (as Valid) whose fetch the kit cancels
	// (default Valid). It is loaded with an HTTP client whose requests are
	// never answered, and the kit cancels once the first request waits.
	// Give another block when Valid's token would come from a cache the
	// kind's SDK keeps for the process (the fetch must reach the network).
	Stall string
	// StallElsewhere says Stall's fetch waits on something other than an
	// HTTP request (a plugin process that never answers): the block is
	// loaded with HTTPClient, and the kit cancels without waiting to see a
	// request.
	StallElsewhere bool
	// OpenBlocks are the dotted paths of nested blocks in Valid whose keys
	// are free (a plugin's own config): the kit adds no unknown key there.
	OpenBlocks []string
	// NoFetch says the kind's token comes without I/O to wait on (a key
	// from the environment or a file): the cancellation check is skipped.
	NoFetch bool
	// Patience bounds how long the kit waits for a cancelled fetch to
	// return before it reports the kind as ignoring its context (default
	// 30s: generous, as this is no timing assertion).
	Patience time.Duration
	// Goroutines is how many Token calls run at once (default 8).
	Goroutines int
}

// Store describes the secret store under test. Its blocks are references
// to a secret without their `store:` key (the kit adds it): the keys of
// the store (secret, version, auth…) and those every reference takes
// (json_key, refresh_interval).
type Store struct {
	// Name is the store's name, as registered (`store:`).
	Name string
	// Valid is a reference (YAML in block style, without `store:` and
	// without indentation) that loads and gives a key with Env, Files and
	// HTTPClient.
	Valid string
	// Invalid are references (as Valid) the store must refuse at load,
	// each problem at its position inside the reference. They may hold
	// secrets: the errors must not.
	Invalid []string
	// Env, Files, HTTPClient, Secrets, Stall, Patience and Goroutines are
	// Kind's (Stall a reference, as Valid).
	Env        map[string]string
	Files      map[string]string
	HTTPClient *http.Client
	Secrets    []string
	Stall      string
	Patience   time.Duration
	Goroutines int
}

// refKey is the key of the reference RunStore checks a store through.
const refKey = "api_key_secret"

// RunStore checks s as Run checks a kind, reporting each broken promise as
// "kindtest: store NAME: CHECK: …".
func RunStore(t testing.TB, s Store) {
	t.Helper()
	if s.Name == "" || s.Valid == "" {
		t.Errorf("kindtest: Store.Name and Store.Valid are required")
		return
	}
	c := &checker{t: t, name: "store " + s.Name, within: "providers.p.auth." + refKey}
	if !slices.Contains(kind.Stores(), s.Name) {
		c.errorf("registered", "no store %s is registered (kind.RegisterStore); known: %s", s.Name, strings.Join(kind.Stores(), ", "))
		return
	}
	if st, _ := kind.NewStore(s.Name); st == nil || reflect.TypeOf(st).Kind() != reflect.Pointer || reflect.TypeOf(st).Elem().Kind() != reflect.Struct {
		c.errorf("registered", "the store's constructor returns %T, not a pointer to a struct whose yaml tags name its keys", st)
		return
	}
	ref := func(block string) string {
		if block == "" {
			return ""
		}
		var b strings.Builder
		b.WriteString(refKey + ":\n  store: " + s.Name + "\n")
		for l := range strings.SplitSeq(strings.TrimRight(block, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		return b.String()
	}
	k := Kind{Type: "static", Valid: ref(s.Valid), Stall: ref(s.Stall), Env: s.Env, Files: s.Files,
		HTTPClient: s.HTTPClient, Secrets: s.Secrets, Patience: s.Patience, Goroutines: s.Goroutines}
	for _, block := range s.Invalid {
		k.Invalid = append(k.Invalid, ref(block))
	}
	c.k = k
	c.run()
}

// UnknownKey is the key the kit adds to Valid to see it refused.
const UnknownKey = "kindtest_unknown_key"

const (
	configName      = "byokcred.yaml"
	defaultPatience = 30 * time.Second
)

// Run checks k, reporting each broken promise through t.Errorf as
// "kindtest: TYPE: CHECK: …", with every secret of k replaced by
// "<secret N>". t is a testing.TB so that the kit's own tests can give it
// a recorder; Run never calls t.Fatal.
func Run(t testing.TB, k Kind) {
	t.Helper()
	if k.Type == "" || k.Valid == "" {
		t.Errorf("kindtest: Kind.Type and Kind.Valid are required")
		return
	}
	c := &checker{t: t, k: k, name: k.Type, within: "providers.p.auth"}
	c.run()
}

type checker struct {
	t testing.TB
	k Kind
	// name is what the kit checks, in its reports: an auth type, or
	// "store NAME".
	name string
	// within is the dotted path every Invalid block's error must point
	// into: the auth block, or a store's reference.
	within string
}

func (c *checker) run() {
	c.t.Helper()
	if c.k.Provider == "" {
		c.k.Provider = "type: openai\nbase_url: https://models.example/v1\nmodel: m"
	}
	if c.k.Patience <= 0 {
		c.k.Patience = defaultPatience
	}
	if c.k.Goroutines <= 0 {
		c.k.Goroutines = 8
	}
	c.validation()
	c.unknownKey()
	c.invalid()
	c.tokens()
	if !c.k.NoFetch {
		c.cancel()
	}
}

// errorf reports a failure of check with the secrets masked: the kit's
// own output must not leak what it catches the kind leaking.
func (c *checker) errorf(check, format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("kindtest: %s: %s: %s", c.name, check, c.mask(fmt.Sprintf(format, args...)))
}

func (c *checker) mask(s string) string {
	for i, secret := range c.k.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, fmt.Sprintf("<secret %d>", i+1))
		}
	}
	return s
}

// leak reports where, when s holds one of the secrets.
func (c *checker) leak(check, where, s string) {
	c.t.Helper()
	for i, secret := range c.k.Secrets {
		if secret != "" && strings.Contains(s, secret) {
			c.errorf(check, "secret %d appears in %s: %s", i+1, where, s)
		}
	}
}

// config writes a config file with block as provider p's auth block into
// dir (with files) and returns its path and the line of the block's first
// key.
func (c *checker) config(dir, block string, files map[string]string) (path string, firstLine int) {
	c.t.Helper()
	var b strings.Builder
	b.WriteString("providers:\n  p:\n")
	line := 2
	for l := range strings.SplitSeq(strings.TrimRight(c.k.Provider, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
		line++
	}
	b.WriteString("    auth:\n      type: " + c.k.Type + "\n")
	line += 2
	for l := range strings.SplitSeq(strings.TrimRight(block, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	// After the block, so that the block's lines are known.
	if c.k.Config != "" {
		b.WriteString(strings.TrimRight(c.k.Config, "\n") + "\n")
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			c.t.Errorf("kindtest: %v", err)
		}
	}
	path = filepath.Join(dir, configName)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		c.t.Errorf("kindtest: %v", err)
	}
	return path, line + 1
}

// env is an injected environment that records what the kind looks up.
type env struct {
	vars map[string]string
	mu   sync.Mutex
	seen []string
}

func (e *env) lookup(name string) (string, bool) {
	e.mu.Lock()
	e.seen = append(e.seen, name)
	e.mu.Unlock()
	v, ok := e.vars[name]
	return v, ok
}

// transport records every request; it refuses them, or (stall) holds them
// until their context ends or the test does. A refusal is an answer, 403
// Forbidden, not a transport error: the SDKs retry a request that got no
// answer with back-off (azidentity's managed identity for about 9 s), and
// a fetch that fails must fail fast.
type transport struct {
	stall atomic.Bool
	done  <-chan struct{}
	mu    sync.Mutex
	reqs  []string
	first chan struct{} // closed at the first request
	once  sync.Once
}

func newTransport(stall bool, done <-chan struct{}) *transport {
	tr := &transport{done: done, first: make(chan struct{})}
	tr.stall.Store(stall)
	return tr
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	tr.mu.Lock()
	// Host and path only: a query may carry a secret.
	tr.reqs = append(tr.reqs, req.Method+" "+req.URL.Host+req.URL.Path)
	tr.mu.Unlock()
	if !tr.stall.Load() {
		return &http.Response{
			StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			Body:    io.NopCloser(strings.NewReader("kindtest: this client refuses every request")),
			Request: req,
		}, nil
	}
	tr.once.Do(func() { close(tr.first) })
	select {
	case <-req.Context().Done():
		return nil, req.Context().Err()
	case <-tr.done:
		return nil, errors.New("kindtest: the test ended")
	}
}

func (tr *transport) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.reqs...)
}

// logs is the registry's log output.
type logs struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (c *checker) options(e *env, client *http.Client, l io.Writer) registry.Options {
	return registry.Options{LookupEnv: e.lookup, HTTPClient: client, Logger: slog.New(slog.NewTextHandler(l, nil))}
}

// homeFiles are credentials files SDKs find on their own; Validate and
// Source must read none of them.
var homeFiles = []string{
	".aws/config", ".aws/credentials",
	".azure/azureProfile.json", ".azure/msal_token_cache.json",
	".config/gcloud/application_default_credentials.json", ".config/gcloud/credentials.db",
	".docker/config.json", ".kube/config", ".netrc",
}

// plantHome sets HOME to a directory holding homeFiles, each with an access
// time older than its modification time, so that reading one moves its
// access time even on a relatime mount. It returns a function listing the
// files read since, or nil when reads cannot be seen here (noatime, an
// operating system without access times).
func (c *checker) plantHome() func() []string {
	home := c.t.TempDir()
	c.t.Setenv("HOME", home)
	c.t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	var planted []string
	for _, f := range append([]string{"kindtest-probe"}, homeFiles...) {
		p := filepath.Join(home, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			c.t.Errorf("kindtest: %v", err)
			return nil
		}
		if err := os.WriteFile(p, []byte("# planted by kindtest: no kind may read it while loading\n"), 0o600); err != nil {
			c.t.Errorf("kindtest: %v", err)
			return nil
		}
		if err := os.Chtimes(p, old, time.Now()); err != nil {
			c.t.Errorf("kindtest: %v", err)
			return nil
		}
		planted = append(planted, p)
	}
	read := func() []string {
		var out []string
		for _, p := range planted {
			fi, err := os.Stat(p)
			if err != nil {
				continue
			}
			if at, ok := accessTime(fi); ok && at.After(old) {
				out = append(out, strings.TrimPrefix(p, home+string(filepath.Separator)))
			}
		}
		return out
	}
	probe := planted[0]
	if _, err := os.ReadFile(probe); err != nil {
		return nil
	}
	if r := read(); len(r) != 1 || r[0] != "kindtest-probe" {
		c.t.Logf("kindtest: %s: reads of files in $HOME cannot be seen here (no access times); not checked", c.name)
		return nil
	}
	planted = planted[1:]
	return read
}

// validation: loading does no I/O, offline or not.
func (c *checker) validation() {
	c.t.Helper()
	const check = "validation does no I/O"
	done := make(chan struct{})
	defer close(done)
	read := c.plantHome()

	// Offline, the config alone must do: no environment, no files.
	tr := newTransport(false, done)
	path, _ := c.config(c.t.TempDir(), c.k.Valid, nil)
	var l logs
	empty := &env{}
	opts := c.options(empty, &http.Client{Transport: tr}, &l)
	opts.Offline = true
	if set, err := registry.Load(path, opts); err != nil {
		c.errorf(check, "the Valid block does not load offline (registry.Options.Offline) with an empty environment (the kind looked up %q) and none of Files: report problems of the environment with Build.EnvErrorf: %v", empty.seen, err)
	} else {
		set.Close()
	}
	if reqs := tr.requests(); len(reqs) > 0 {
		c.errorf(check, "the offline load made requests: %s", strings.Join(reqs, ", "))
	}

	// A normal load: Validate and Source, but no token yet.
	tr = newTransport(false, done)
	path, _ = c.config(c.t.TempDir(), c.k.Valid, c.k.Files)
	set, err := registry.Load(path, c.options(&env{vars: c.k.Env}, &http.Client{Transport: tr}, &l))
	if err != nil {
		c.errorf(check, "the Valid block does not load with Env and Files when every request fails: %v", err)
		c.leak(check, "a load error", err.Error())
	}
	if reqs := tr.requests(); len(reqs) > 0 {
		c.errorf(check, "loading made requests (Validate and Source must leave them to Token): %s", strings.Join(reqs, ", "))
	}
	if read != nil {
		if files := read(); len(files) > 0 {
			c.errorf(check, "loading read credentials files in $HOME: %s", strings.Join(files, ", "))
		}
	}
	if set != nil {
		// A fetch whose requests fail must say so without the secrets.
		if p, err := set.Provider("p"); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), c.k.Patience)
			if _, err := p.Token(ctx); err != nil {
				c.leak("no secret in output", "a failed fetch's error", err.Error())
			}
			cancel()
		}
		if err := set.Close(); err != nil {
			c.leak("no secret in output", "Close's error", err.Error())
		}
	}
	c.leak("no secret in output", "the logs", l.String())
}

// unknownKey: a key the kind does not have is refused at its position,
// at the top of the block and in each nested block Valid writes in block
// style.
func (c *checker) unknownKey() {
	c.t.Helper()
	const check = "unknown keys are refused with positions"
	for _, at := range c.mappings() {
		block := strings.Join(slices.Insert(slices.Clone(at.lines), at.line, strings.Repeat(" ", at.indent)+UnknownKey+": 1"), "\n")
		path, first := c.config(c.t.TempDir(), block, c.k.Files)
		opts := registry.Options{Offline: true, LookupEnv: (&env{vars: c.k.Env}).lookup, Logger: slog.New(slog.DiscardHandler)}
		set, err := registry.Load(path, opts)
		key := strings.TrimPrefix(at.path+"."+UnknownKey, ".")
		if err == nil {
			set.Close()
			c.errorf(check, "the Valid block with %s added loads", key)
			continue
		}
		// At the key's line; the column is the key's (the registry's
		// strict decoding) or its value's (Build.Errorf at the key).
		want := fmt.Sprintf("%s:%d:COL: providers.p.auth.%s", configName, first+at.line, key)
		re := regexp.MustCompile(strings.Replace(regexp.QuoteMeta(want), "COL", `\d+`, 1))
		if !re.MatchString(err.Error()) {
			c.errorf(check, "the error does not contain %q: %v", want, err)
		}
		c.leak("no secret in output", "the unknown key's error", err.Error())
	}
}

// mapping is where the kit adds an unknown key to Valid: before line (0 is
// the first) at indent, in the mapping at path (dotted, "" for the block).
type mapping struct {
	lines        []string
	line, indent int
	path         string
}

// mappings finds the block mappings of Valid: the block itself and every
// "key:" line followed by a more indented "key: value" line, except those
// in Kind.OpenBlocks.
func (c *checker) mappings() []mapping {
	lines := strings.Split(strings.TrimRight(c.k.Valid, "\n"), "\n")
	out := []mapping{{lines: lines}}
	type level struct {
		indent int
		key    string
	}
	var stack []level
	for i, l := range lines {
		indent := len(l) - len(strings.TrimLeft(l, " "))
		body := strings.TrimSpace(l)
		if body == "" || strings.HasPrefix(body, "#") || strings.HasPrefix(body, "- ") {
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		key, rest, ok := strings.Cut(body, ":")
		if !ok {
			continue
		}
		stack = append(stack, level{indent, key})
		if strings.TrimSpace(rest) != "" || i+1 >= len(lines) {
			continue
		}
		next := lines[i+1]
		nextIndent := len(next) - len(strings.TrimLeft(next, " "))
		if nextIndent <= indent || strings.HasPrefix(strings.TrimSpace(next), "- ") {
			continue
		}
		var keys []string
		for _, s := range stack {
			keys = append(keys, s.key)
		}
		path := strings.Join(keys, ".")
		if slices.Contains(c.k.OpenBlocks, path) {
			continue
		}
		out = append(out, mapping{lines: lines, line: i + 1, indent: nextIndent, path: path})
	}
	return out
}

// invalid: each Invalid block is refused with positions, without secrets
// and without I/O.
func (c *checker) invalid() {
	c.t.Helper()
	const check = "invalid blocks are refused with positions"
	position := regexp.MustCompile(regexp.QuoteMeta(configName) + `:\d+:\d+: ` + regexp.QuoteMeta(c.within) + `\b`)
	done := make(chan struct{})
	defer close(done)
	for i, block := range c.k.Invalid {
		tr := newTransport(false, done)
		var l logs
		path, _ := c.config(c.t.TempDir(), block, c.k.Files)
		set, err := registry.Load(path, c.options(&env{vars: c.k.Env}, &http.Client{Transport: tr}, &l))
		if err == nil {
			set.Close()
			c.errorf(check, "Invalid[%d] loads", i)
			continue
		}
		if !position.MatchString(err.Error()) {
			c.errorf(check, "Invalid[%d]: the error names no %s:LINE:COL in %s: %v", i, configName, c.within, err)
		}
		c.leak("no secret in output", fmt.Sprintf("Invalid[%d]'s error", i), err.Error())
		c.leak("no secret in output", fmt.Sprintf("the logs of Invalid[%d]'s load", i), l.String())
		if reqs := tr.requests(); len(reqs) > 0 {
			c.errorf("validation does no I/O", "loading Invalid[%d] made requests: %s", i, strings.Join(reqs, ", "))
		}
	}
}

// load loads block normally with Env, Files and client, failing the check
// when it does not.
func (c *checker) load(check, block string, client *http.Client, l io.Writer) (*registry.Set, *registry.Provider, credential.TokenSource) {
	c.t.Helper()
	c.t.Setenv("HOME", c.t.TempDir())
	path, _ := c.config(c.t.TempDir(), block, c.k.Files)
	set, err := registry.Load(path, c.options(&env{vars: c.k.Env}, client, l))
	if err != nil {
		c.errorf(check, "the block does not load: %v", err)
		return nil, nil, nil
	}
	p, err := set.Provider("p")
	if err != nil {
		set.Close()
		c.errorf(check, "%v", err)
		return nil, nil, nil
	}
	src := p.KindSource()
	if src == nil {
		set.Close()
		c.errorf(check, "the registry holds no source of the kind's for provider p (a per-user credential, or a registry this kit does not know)")
		return nil, nil, nil
	}
	return set, p, src
}

// tokens: tokens come, concurrently, and nothing shows a secret.
func (c *checker) tokens() {
	c.t.Helper()
	const (
		check = "tokens"
		leaks = "no secret in output"
	)
	var l logs
	set, p, src := c.load(check, c.k.Valid, c.k.HTTPClient, &l)
	if set == nil {
		return
	}
	var tok *credential.Token
	defer func() {
		if err := set.Close(); err != nil {
			c.leak(leaks, "Close's error", err.Error())
		}
		c.leak(leaks, "the logs", l.String())
		if tok != nil {
			c.formatted(map[string]any{"the token": tok, "the token's value": tok.Value})
		}
	}()
	// The source and config are formatted before the first fetch: fmt
	// reads every field without the locks or atomics the SDKs' goroutines
	// use once fetches run (a race of the kit's, not of the kind's).
	c.formatted(map[string]any{"the kind's source": src, "the decoded config": p.Auth})
	ctx, cancel := context.WithTimeout(context.Background(), c.k.Patience)
	defer cancel()
	tok, err := src.Token(ctx)
	if err != nil {
		tok = nil
		c.errorf(check, "the kind's source gives no token: %v", err)
		c.leak(leaks, "a token error", err.Error())
		return
	}
	if tok == nil || tok.Value.IsZero() {
		tok = nil
		c.errorf(check, "the kind's source gives an empty token")
		return
	}
	if _, err := p.Token(ctx); err != nil {
		c.errorf(check, "the provider gives no token: %v", err)
	}

	const concurrency = "concurrent Token calls are safe"
	start := make(chan struct{})
	errs := make([]error, c.k.Goroutines)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			tok, err := src.Token(ctx)
			if err == nil && (tok == nil || tok.Value.IsZero()) {
				err = errors.New("an empty token")
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.errorf(concurrency, "call %d of %d at once: %v", i+1, len(errs), err)
		}
	}

	for _, f := range p.DescribeToken(tok) {
		c.leak(leaks, "DescribeToken's fact "+f.Name, f.Name+"="+f.Value)
	}
	if d, ok := p.Auth.(kind.Diagnoser); ok {
		for _, link := range d.Diagnose(ctx) {
			c.leak(leaks, "the Diagnoser's link "+link.Name, link.Name+": "+link.Err)
		}
	}
	// Set.Check runs the kind's Result.Check, if any.
	if err := set.Check(ctx); err != nil {
		c.leak(leaks, "Check's error", err.Error())
	}
}

// formatted checks fmt's verbs on values.
func (c *checker) formatted(values map[string]any) {
	c.t.Helper()
	for what, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			c.leak("no secret in output", fmt.Sprintf("%s of %s", verb, what), fmt.Sprintf(verb, v))
		}
	}
}

// cancel: a fetch that gets no answer returns once its context is
// cancelled.
func (c *checker) cancel() {
	c.t.Helper()
	const check = "ctx cancellation is honoured"
	done := make(chan struct{})
	c.t.Cleanup(func() { close(done) })
	block, client := c.k.Stall, c.k.HTTPClient
	if block == "" {
		block = c.k.Valid
	}
	// Stalling starts with the fetch: a load that made requests (which
	// the validation check reports) must not hang here.
	tr := newTransport(false, done)
	if !c.k.StallElsewhere {
		client = &http.Client{Transport: tr}
	}
	var l logs
	set, _, src := c.load(check, block, client, &l)
	if set == nil {
		return
	}
	defer set.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	tr.stall.Store(true)
	go func() {
		_, err := src.Token(ctx)
		result <- err
	}()
	if !c.k.StallElsewhere {
		// Cancel once the fetch waits on its request, so that the kind's
		// wait, not an early check of ctx, is what is tested.
		select {
		case <-tr.first:
		case err := <-result:
			c.errorf(check, "the fetch returned before its request was answered (its requests must go through Build.HTTPClient): %v", err)
			return
		case <-time.After(c.k.Patience):
			c.errorf(check, "the fetch made no request through Build.HTTPClient within %s", c.k.Patience)
			return
		}
	}
	cancel()
	select {
	case err := <-result:
		if err == nil {
			c.errorf(check, "the cancelled fetch returned no error")
		} else {
			c.leak("no secret in output", "a cancelled fetch's error", err.Error())
		}
	case <-time.After(c.k.Patience):
		c.errorf(check, "the fetch did not return within %s of its context's cancellation", c.k.Patience)
	}
	c.leak("no secret in output", "the logs", l.String())
}
