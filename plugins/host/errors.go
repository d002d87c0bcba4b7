package host

import (
	"errors"
	"fmt"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/internal/wire"
)

// Error is every error that the host returns. Its message is
//
//	plugins: plugin "vault", provider "gateway": <what went wrong>
//
// and never contains the plugin's raw output. Use errors.Is with the
// sentinels below to tell the faults apart.
type Error struct {
	Plugin   string
	Provider string // empty for Manager.Start
	Err      error
}

var _ credential.ProviderNamingError = (*Error)(nil)

func (e *Error) Error() string {
	if e.Provider == "" {
		return fmt.Sprintf("plugins: plugin %q: %v", e.Plugin, e.Err)
	}
	return fmt.Sprintf("plugins: plugin %q, provider %q: %v", e.Plugin, e.Provider, e.Err)
}

// ErrorWithoutProvider is the message without the provider, for a
// credential.TokenError that names it first (see
// credential.ProviderNamingError).
func (e *Error) ErrorWithoutProvider() string {
	return fmt.Sprintf("plugins: plugin %q: %v", e.Plugin, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// The faults. Each is wrapped, with details, by an [*Error].
var (
	// ErrUnknownPlugin: a provider names a plugin that has no entry.
	ErrUnknownPlugin = errors.New("no such plugin is configured")
	// ErrInvalidConfig: the plugin entry or the provider's config is not
	// usable (empty command, malformed sha256, unsupported value type).
	ErrInvalidConfig = errors.New("invalid plugin config")
	// ErrBinaryNotFound: the command does not exist or is not executable.
	ErrBinaryNotFound = errors.New("plugin binary not found")
	// ErrChecksumMismatch: the binary's sha256 is not the pinned one; the
	// binary was not started.
	ErrChecksumMismatch = errors.New("plugin binary checksum mismatch")
	// ErrStartTimeout: the process did not complete the go-plugin
	// handshake within StartTimeout and was killed.
	ErrStartTimeout = errors.New("plugin did not start in time")
	// ErrHandshake: the process exited before the handshake, or answered
	// with something that is not a compatible byokcred plugin handshake.
	ErrHandshake = errors.New("plugin handshake failed")
	// ErrCallTimeout: a call did not return within CallTimeout; the
	// process was killed and is restarted on the next call.
	ErrCallTimeout = errors.New("plugin call timed out")
	// ErrCrashed: the process died during a call; it is restarted on the
	// next call.
	ErrCrashed = errors.New("plugin process exited")
	// ErrRestartLimit: the process was (re)started too often within the
	// restart window; it is not started again until the window has passed.
	ErrRestartLimit = errors.New("plugin restart limit reached")
	// ErrPlugin: the plugin answered with an error of its own (bad config,
	// failing command, identity provider down).
	ErrPlugin = errors.New("plugin reported an error")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("plugin manager is closed")
	// ErrInvalidToken: the plugin returned an empty token or one of an
	// unknown kind.
	ErrInvalidToken = wire.ErrInvalidToken
	// ErrExpiredToken: the plugin returned a token that had already
	// expired.
	ErrExpiredToken = wire.ErrExpiredToken
)

// scrubbedError shows err's text with config values replaced (see [Scrub])
// and keeps err for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
