// Package host runs byokcred's credential plugins: external processes that
// serve the plugins/proto Credential service over hashicorp/go-plugin's
// gRPC protocol with automatic mTLS.
//
// A [Manager] holds one entry per plugin (the `plugins:` section of the
// config). Each entry is one process, shared by every provider that uses the
// plugin, and started lazily, on the first Token call of any of its
// providers ([Manager.Start] starts one eagerly, to fail fast at startup).
// [Manager.Source] gives each provider a [credential.TokenSource]; the first
// Token call through it sends the provider's config (Configure), and later
// calls fetch tokens (GetToken).
//
// Processes are restarted transparently: after a crash, or after a call that
// hung past CallTimeout (the process is then killed), the next Token call
// starts a new process and sends each provider's config again. Restarts are
// bounded: more than MaxRestarts within RestartWindow gives ErrRestartLimit
// until the window has passed.
//
// Isolation: a plugin gets only the environment its entry names (plus what
// go-plugin needs for the handshake: the magic cookie, port range, protocol
// versions and the host's mTLS certificate); a binary whose sha256 is pinned
// and differs is never started; its stdout is never read beyond the
// handshake; its stderr reaches the host log only at debug level, redacted
// (see relay.go).
package host

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/internal/wire"
)

// Defaults for the zero values of [PluginConfig] and [ManagerOptions].
const (
	DefaultStartTimeout  = 10 * time.Second
	DefaultCallTimeout   = 10 * time.Second
	DefaultMaxRestarts   = 3
	DefaultRestartWindow = time.Minute
)

// PluginConfig is one entry of the `plugins:` section.
type PluginConfig struct {
	// Command is the plugin binary: a path or a name looked up in the
	// host's PATH. The config loader has already made a relative path with
	// a slash relative to the config file's directory; here a relative
	// path is taken as it is (relative to the working directory).
	Command string
	// Args are passed to the binary.
	Args []string
	// SHA256, when set, pins the binary: 64 hex digits, optionally prefixed
	// "sha256:". A binary with another digest is never started.
	SHA256 string
	// Env is the plugin's whole environment. The host's own environment is
	// not inherited.
	Env map[string]string
	// StartTimeout bounds the start, up to the end of the handshake.
	// Default 10s.
	StartTimeout time.Duration
	// CallTimeout bounds each call into the plugin, on top of the caller's
	// own deadline. A call that hits it gets the process killed. Default 10s.
	CallTimeout time.Duration
}

// ManagerOptions configures a [Manager].
type ManagerOptions struct {
	// Logger receives the plugins' relayed output and lifecycle events at
	// debug level, and crashes and kills at warn level. Nil discards.
	Logger *slog.Logger
	// Plugins are the plugin entries by name.
	Plugins map[string]PluginConfig
	// MaxRestarts is how many times a plugin process may be started again
	// within RestartWindow. Default 3.
	MaxRestarts int
	// RestartWindow is the window for MaxRestarts. Default 1m.
	RestartWindow time.Duration
}

// Manager runs the plugin processes. It is safe for concurrent use.
type Manager struct {
	instances map[string]*instance

	mu     sync.Mutex
	closed bool
}

// The registry closes the Manager with the provider set.
var _ credential.Closer = (*Manager)(nil)

// NewManager prepares one (not yet started) process per plugin entry. An
// invalid entry is reported by Source and Start, naming the provider.
func NewManager(opts ManagerOptions) *Manager {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = DefaultMaxRestarts
	}
	if opts.RestartWindow <= 0 {
		opts.RestartWindow = DefaultRestartWindow
	}
	m := &Manager{instances: make(map[string]*instance, len(opts.Plugins))}
	for name, cfg := range opts.Plugins {
		m.instances[name] = newInstance(name, cfg, log.With("plugin", name), opts.MaxRestarts, opts.RestartWindow)
	}
	return m
}

// checkConfig normalises an entry and reports what cannot work. It returns
// the pinned digest, if any.
func checkConfig(cfg *PluginConfig) ([]byte, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, fmt.Errorf("%w: command is empty", ErrInvalidConfig)
	}
	for k := range cfg.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("%w: env name %q is not a valid variable name", ErrInvalidConfig, k)
		}
	}
	if cfg.SHA256 == "" {
		return nil, nil
	}
	h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(cfg.SHA256), "sha256:"))
	sum, err := hex.DecodeString(h)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("%w: sha256 must be 64 hex digits (the output of sha256sum), got %d characters", ErrInvalidConfig, len(h))
	}
	return sum, nil
}

// SourceOption configures one provider's source; see [Scrub].
type SourceOption func(*source)

// Scrub passes the text of every error the provider's source returns
// through scrub: the loader knows which config values came from
// environment variables (config.Doc.Scrubber), and a plugin that quotes one
// in an error (a bad value, a URL) must not put it in a log.
func Scrub(scrub func(string) string) SourceOption {
	return func(s *source) { s.scrub = scrub }
}

// Source returns the token source of one provider that uses plugin
// pluginName with the given config (the provider's `auth.config`). It starts
// nothing: the plugin starts on the first Token call. The config is copied.
func (m *Manager) Source(pluginName, providerName string, config map[string]any, opts ...SourceOption) (credential.TokenSource, error) {
	inst, err := m.instance(pluginName, providerName)
	if err != nil {
		return nil, err
	}
	// Convert now, so that a value that cannot cross the wire is reported
	// at load time; the round trip also deep-copies the map.
	st, err := wire.ConfigToStruct(config)
	if err != nil {
		return nil, &Error{Plugin: pluginName, Provider: providerName, Err: fmt.Errorf("%w: %v", ErrInvalidConfig, err)}
	}
	src := &source{inst: inst, provider: providerName, config: st.AsMap(), sem: make(chan struct{}, 1)}
	for _, o := range opts {
		o(src)
	}
	return src, nil
}

// Start starts the named plugin now, if it is not running, and waits for
// its handshake, so that a missing binary or a bad checksum is found at
// startup instead of on the first request.
func (m *Manager) Start(ctx context.Context, pluginName string) error {
	inst, err := m.instance(pluginName, "")
	if err != nil {
		return err
	}
	if _, err := inst.acquire(ctx); err != nil {
		return &Error{Plugin: pluginName, Err: err}
	}
	return nil
}

// Stats describes one plugin entry's process, for metrics and diagnosis.
type Stats struct {
	// Starts counts processes started; every start after the first is a
	// restart.
	Starts int64
	// PID is the running process, 0 when none runs.
	PID int
	// LastFailure is the last start or call failure's message.
	LastFailure string
}

// Stats returns each plugin entry's stats, by name.
func (m *Manager) Stats() map[string]Stats {
	out := make(map[string]Stats, len(m.instances))
	for name, inst := range m.instances {
		inst.mu.Lock()
		st := Stats{Starts: inst.spawned, LastFailure: inst.lastFailure}
		if inst.cur != nil {
			st.PID = inst.cur.pid
		}
		inst.mu.Unlock()
		out[name] = st
	}
	return out
}

// Plugins returns the names of the plugin entries, sorted.
func (m *Manager) Plugins() []string {
	return slices.Sorted(maps.Keys(m.instances))
}

func (m *Manager) instance(pluginName, providerName string) (*instance, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, &Error{Plugin: pluginName, Provider: providerName, Err: ErrClosed}
	}
	inst, ok := m.instances[pluginName]
	if !ok {
		return nil, &Error{Plugin: pluginName, Provider: providerName, Err: fmt.Errorf("%w; add it under plugins: or fix the provider's auth.plugin", ErrUnknownPlugin)}
	}
	if inst.cfgErr != nil {
		return nil, &Error{Plugin: pluginName, Provider: providerName, Err: inst.cfgErr}
	}
	return inst, nil
}

// Close stops every plugin process and waits for them to exit (a process
// that does not exit within 2 s of being asked is killed, with everything it
// started). Token calls after Close fail with ErrClosed. Close is
// idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, inst := range m.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst.close()
		}()
	}
	wg.Wait()
	return nil
}
