// Package agent is byokcred's credential agent: a long-lived process that
// holds the token caches for one config and hands tokens to short-lived
// helper processes (such as the command the Copilot CLI runs before every
// model request) over a unix socket, the way ssh-agent holds keys.
//
// The protocol is one JSON request and one JSON response, each a single
// line, both carrying the protocol version; a client that sets Keep may send
// further requests on the same connection (docs/agent-protocol.md). A peer of another
// uid is refused before it is read (SO_PEERCRED), and the socket is created
// 0600 in a 0700 directory of ours. The client trusts an answer only from a
// socket of ours, in a directory of ours, served by a process of our uid.
//
// The client half (Ask, DefaultSocket) reads no config, so a helper that
// finds a running agent pays for a dial and a round trip, not for loading
// providers.
package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/secretfile"
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
	Op string `json:"op"` // OpToken or OpProvider
	// Provider is the provider's name; empty means the default provider.
	Provider string `json:"provider,omitempty"`
	// Config is the absolute path of the config file the helper would load
	// on its own. An agent serving another file answers CodeConfig, so a
	// helper never gets a credential from a config it did not name.
	Config string `json:"config,omitempty"`
	// Keep asks the agent to read another request on this connection after
	// answering. An agent that does so says Keep in its answer; one that
	// predates Keep ignores it and closes the connection, so a client that
	// sets it works with either.
	Keep bool `json:"keep,omitempty"`
}

// The ops.
const (
	// OpToken asks for a provider's current credential.
	OpToken = "token"
	// OpProvider asks for a provider's description (ProviderInfo): what a
	// client needs to build its SDK provider config, and no secret.
	OpProvider = "provider"
)

// Response is the agent's answer: a credential, or an error.
type Response struct {
	V        int    `json:"v"`
	Provider string `json:"provider,omitempty"`
	Kind     string `json:"kind,omitempty"` // credential.Kind's spelling
	// Token is the credential. It is a plain string only on the wire; both
	// ends keep it in a credential.Secret.
	Token string `json:"token,omitempty"`
	// Expiry is the token's expiry in Unix milliseconds (0: never).
	Expiry int64 `json:"expiry,omitempty"`
	// Code classifies an error; Error describes it (never a secret).
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Keep says the agent reads another request on this connection.
	Keep bool `json:"keep,omitempty"`
	// ProviderConfig answers OpProvider.
	ProviderConfig *ProviderInfo `json:"provider_config,omitempty"`
}

// ProviderInfo describes a provider to a client that builds its own SDK
// provider config (the TypeScript client's providerConfig). It carries no
// credential: the client asks OpToken for that, at every model request.
type ProviderInfo struct {
	Type string `json:"type"`
	// BaseURL and the values of Headers are templates: a part beyond the
	// URL's scheme://host[:port], or of a header value, that came from an
	// environment variable is written ${NAME} (it may be a secret: the
	// client expands it from its own environment), and a literal `$` is
	// written `$$`.
	BaseURL    string `json:"base_url"`
	WireAPI    string `json:"wire_api,omitempty"`
	Model      string `json:"model,omitempty"`
	WireModel  string `json:"wire_model,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	// Headers are the config's extra headers (templates, as BaseURL).
	// WithheldHeaders names those left out: a value written in the config
	// file under a name that says it carries a credential (Api-Key,
	// Ocp-Apim-Subscription-Key…); the client supplies them itself.
	Headers         map[string]string `json:"headers,omitempty"`
	WithheldHeaders []string          `json:"withheld_headers,omitempty"`
	// CredentialHeader is the header the credential goes in for this
	// provider's type and credential kind: Authorization (a bearer token,
	// or an openai-type API key), Api-Key or X-Api-Key.
	CredentialHeader string `json:"credential_header"`
	// Refresh is per_request (ask OpToken before every model request) or
	// per_session (one credential for a session's life).
	Refresh string `json:"refresh"`
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
//
// The socket is trusted only when it and its directory are ours (checked
// before dialing; ErrUntrusted otherwise) and the process listening on it
// runs as our uid (SO_PEERCRED, checked before the request is written). The
// answer is read up to maxResponse bytes, and its credential must fit in a
// header, since the caller prints it for the Copilot CLI.
func Ask(ctx context.Context, socket string, req Request) (*Response, error) {
	req.V = Version
	if err := checkSocket(socket); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrNoAgent, socket, err)
	}
	defer conn.Close()
	if uid, err := peerUID(conn); err != nil {
		return nil, fmt.Errorf("%w: %s: the listening process's uid could not be read: %w", ErrUntrusted, socket, err)
	} else if uid != os.Geteuid() {
		return nil, fmt.Errorf("%w: the process listening on %s runs as uid %d, not as this user (uid %d); stop it and remove the socket", ErrUntrusted, socket, uid, os.Geteuid())
	}
	deadline := time.Now().Add(askTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// A live agent writes its first byte as soon as it has the connection;
	// one that is stopped (SIGSTOP) or wedged has the kernel accept for it
	// and never answers, and the helper must not wait out a cold fetch's
	// bound for that.
	if first := time.Now().Add(firstByteTimeout); first.Before(deadline) {
		conn.SetDeadline(first)
	} else {
		conn.SetDeadline(deadline)
	}
	// A refused peer's connection is closed without an answer, possibly
	// before the request is written.
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, fmt.Errorf("agent: %s: no answer (refused, or the agent stopped): %w", socket, err)
	}
	lr := &io.LimitedReader{R: conn, N: maxResponse}
	br := bufio.NewReader(lr)
	if _, err := br.Peek(1); err != nil {
		return nil, fmt.Errorf("agent: %s: no answer (refused, or the agent stopped or is not responding): %w", socket, err)
	}
	conn.SetDeadline(deadline)
	var resp Response
	if err := json.NewDecoder(br).Decode(&resp); err != nil {
		if lr.N == 0 {
			return nil, fmt.Errorf("agent: %s: the answer is larger than %d bytes; refused", socket, maxResponse)
		}
		return nil, fmt.Errorf("agent: %s: no answer (refused, or the agent stopped): %w", socket, err)
	}
	if resp.Code != "" || resp.Error != "" {
		return nil, &Error{Code: printable(resp.Code), Msg: printable(capError(resp.Error))}
	}
	switch {
	case resp.Token == "":
		return nil, fmt.Errorf("agent: %s: empty credential in the answer", socket)
	case len(resp.Token) > maxToken:
		return nil, fmt.Errorf("agent: %s: the credential in the answer is %d bytes, more than %d; refused", socket, len(resp.Token), maxToken)
	}
	kind := credential.KindBearer // the stricter check when the kind is unknown
	if resp.Kind == credential.KindAPIKey.String() {
		kind = credential.KindAPIKey
	}
	if err := credential.CheckHeaderValue(resp.Token, kind); err != nil {
		return nil, fmt.Errorf("agent: %s: the credential in the answer cannot be sent: %w", socket, err)
	}
	return &resp, nil
}

// askTimeout bounds a whole exchange once the agent has shown it is alive:
// it answers from its cache, or fetches within the config's token_timeout
// (30 s by default).
const askTimeout = 60 * time.Second

// firstByteTimeout bounds the wait for a live agent's first byte, which it
// sends before reading the request: scheduling, not a fetch.
const firstByteTimeout = 2 * time.Second

// maxToken caps a credential on the wire, as secretfile caps a credential
// file: servers refuse larger headers anyway.
const maxToken = secretfile.MaxSize

// maxErrorMsg caps an error message on the wire; longer ones are cut.
const maxErrorMsg = 1 << 10

// maxResponse caps an answer: a credential whose every byte is escaped
// (a quote or a backslash, two bytes), and room for the other fields.
const maxResponse = 2*maxToken + 4<<10

// capError cuts msg to maxErrorMsg bytes, at a rune boundary.
func capError(msg string) string {
	if len(msg) <= maxErrorMsg {
		return msg
	}
	cut := maxErrorMsg
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// printable replaces control characters in s, which the helper prints on
// the terminal: an agent's message must not carry escape sequences or
// extra lines.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}
