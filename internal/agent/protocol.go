// Package agent is byokcred's credential agent: a long-lived process that
// holds the token caches for one config and hands tokens to short-lived
// helper processes (such as the command the Copilot CLI runs before every
// model request) over a unix socket, the way ssh-agent holds keys.
//
// The protocol is one JSON request and one JSON response per connection,
// each a single line, both carrying the protocol version. A peer of another
// uid is refused before it is read (SO_PEERCRED), and the socket is created
// 0600 in a 0700 directory.
//
// The client half (Ask, DefaultSocket) uses only the standard library and
// reads no config, so a helper that finds a running agent pays for a dial
// and a round trip, not for loading providers.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Version is the protocol version. A server answers a request of another
// version with CodeVersion, so an old helper and a new agent never
// misread each other.
const Version = 1

// SocketEnv names the variable that overrides the default socket path.
const SocketEnv = "BYOKCRED_AGENT_SOCK"

// Request is what a helper asks.
type Request struct {
	V  int    `json:"v"`
	Op string `json:"op"` // OpToken
	// Provider is the provider's name; empty means the default provider.
	Provider string `json:"provider,omitempty"`
	// Config is the absolute path of the config file the helper would load
	// on its own. An agent serving another file answers CodeConfig, so a
	// helper never gets a credential from a config it did not name.
	Config string `json:"config,omitempty"`
}

// OpToken asks for a provider's current credential.
const OpToken = "token"

// Response is the agent's answer: a credential, or an error.
type Response struct {
	V        int    `json:"v"`
	Provider string `json:"provider,omitempty"`
	Kind     string `json:"kind,omitempty"` // provider.Kind's spelling
	// Token is the credential. It is a plain string only on the wire; both
	// ends keep it in a provider.Secret.
	Token string `json:"token,omitempty"`
	// Expiry is the token's expiry in Unix milliseconds (0: never).
	Expiry int64 `json:"expiry,omitempty"`
	// Code classifies an error; Error describes it (never a secret).
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// Error codes.
const (
	CodeVersion  = "version"   // unknown protocol version
	CodeBadInput = "bad_input" // malformed request or unknown op
	CodeConfig   = "config"    // the agent serves another config file
	CodeProvider = "provider"  // no such provider
	CodeToken    = "token"     // the provider's source failed
)

// Error is an error the agent answered with.
type Error struct {
	Code, Msg string
}

func (e *Error) Error() string { return "agent: " + e.Msg }

// DefaultSocket returns the socket path: $BYOKCRED_AGENT_SOCK, else
// $XDG_RUNTIME_DIR/byokcred/agent.sock, else a per-uid directory in the
// system's temporary directory.
func DefaultSocket(lookupEnv func(string) (string, bool)) string {
	if p, _ := lookupEnv(SocketEnv); p != "" {
		return p
	}
	if d, _ := lookupEnv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "byokcred", "agent.sock")
	}
	return filepath.Join(os.TempDir(), "byokcred-"+strconv.Itoa(os.Getuid()), "agent.sock")
}

// ErrNoAgent wraps the dial error when no agent listens on the socket (no
// file, or a stale one left by a killed agent).
var ErrNoAgent = errors.New("agent: no agent running")

// Ask sends one request to the agent at socket and returns its answer. An
// answer with an error code comes back as *Error.
func Ask(ctx context.Context, socket string, req Request) (*Response, error) {
	req.V = Version
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrNoAgent, socket, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(askTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	// A refused peer's connection is closed without an answer, possibly
	// before the request is written.
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, fmt.Errorf("agent: %s: no answer (refused, or the agent stopped): %w", socket, err)
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, fmt.Errorf("agent: %s: no answer (refused, or the agent stopped): %w", socket, err)
	}
	if resp.Code != "" || resp.Error != "" {
		return nil, &Error{Code: resp.Code, Msg: resp.Error}
	}
	if resp.Token == "" {
		return nil, fmt.Errorf("agent: %s: empty credential in the answer", socket)
	}
	return &resp, nil
}

// askTimeout bounds a whole exchange: the agent answers from its cache, or
// fetches within the config's token_timeout (30 s by default).
const askTimeout = 60 * time.Second
