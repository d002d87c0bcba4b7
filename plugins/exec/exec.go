// Package exec is the byokcred credential plugin that runs a command for
// each token: `vault read`, `gcloud auth print-access-token`, a Kubernetes
// client-go credential plugin, an AWS-style credential_process, or any
// script that prints a token.
//
// Config keys (unknown keys are errors):
//
//	command  string, required. Resolved against `PATH` from env below, else
//	         the plugin's own PATH (the host gives plugins only the env
//	         their entry names, so set PATH there or use an absolute path).
//	args     list of strings.
//	env      map of strings, added to the plugin's environment for the
//	         command.
//	timeout  duration string, default "10s". The command's whole process
//	         group is killed when it expires. The host's deadline, if
//	         shorter, wins (minus a small margin, so that the plugin
//	         reports the timeout before the host gives up on it).
//	format   auto (default) | raw | exec_credential | credential_process |
//	         azure_cli | gcloud.
//	kind     bearer (default) | api_key: how the host sends the token.
//
// Output formats:
//
//	raw                 the first line of stdout, trimmed of white space.
//	exec_credential     a Kubernetes ExecCredential:
//	                    {"apiVersion": "client.authentication.k8s.io/v1"
//	                     (or v1beta1), "kind": "ExecCredential",
//	                     "status": {"token": "…",
//	                                "expirationTimestamp": "RFC 3339"}}
//	                    status.token is required; expirationTimestamp is
//	                    optional; client certificates are not supported.
//	credential_process  {"Version": 1, "AccessToken": "…" or "Token": "…",
//	                     "Expiration": "RFC 3339"}: Version must be 1,
//	                    exactly one of AccessToken and Token is set,
//	                    Expiration is optional; other keys are ignored.
//	                    (AWS key pairs — AccessKeyId/SecretAccessKey — are
//	                    not bearer credentials and are refused.)
//	azure_cli           `az account get-access-token -o json`:
//	                    accessToken, expires_on (epoch seconds, preferred)
//	                    or expiresOn (local time, "2006-01-02 15:04:05.999999"),
//	                    tokenType Bearer if present.
//	gcloud              `gcloud config config-helper --format=json`:
//	                    credential.access_token and
//	                    credential.token_expiry (RFC 3339).
//	auto                JSON with "kind": "ExecCredential" is read as
//	                    exec_credential, other JSON with "Version" as
//	                    credential_process, with "accessToken" as azure_cli,
//	                    with "credential" as gcloud; output not starting
//	                    with "{" is raw.
//
// A failing command is reported with its exit status and the start of its
// stderr, from which the token (anything it printed on stdout), the values
// of the config's env (except PATH) and anything token-shaped are redacted.
// Stdout itself is never reported.
package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/plugins/internal/redact"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
)

// Format is how the command's stdout is read.
type Format string

// The output formats; see the package documentation.
const (
	FormatAuto              Format = "auto"
	FormatRaw               Format = "raw"
	FormatExecCredential    Format = "exec_credential"
	FormatCredentialProcess Format = "credential_process"
	FormatAzureCLI          Format = "azure_cli"
	FormatGcloud            Format = "gcloud"
)

const (
	// DefaultTimeout bounds one run of the command.
	DefaultTimeout = 10 * time.Second
	// maxStdout bounds what is read from the command: a token response is
	// a few KiB; more is a misconfigured command.
	maxStdout = 1 << 20
	// maxStderr bounds what is kept of stderr, and stderrInError what of it
	// goes into an error message.
	maxStderr     = 64 << 10
	stderrInError = 512
	// waitDelay bounds the wait for the command to exit after it was
	// killed at its timeout.
	waitDelay = time.Second
	// pipeGrace is how long, once the command has exited, its stdout may
	// take to reach end of file; still open after that, it is held by a
	// process the command left behind.
	pipeGrace = 250 * time.Millisecond
)

// Options configures a [Source].
type Options struct {
	Command string
	Args    []string
	Env     map[string]string
	Timeout time.Duration
	Format  Format
	Kind    credential.Kind
}

// Source runs the command on every Token call.
type Source struct {
	opts Options
	path string // Command resolved to a path
	env  []string
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource checks opts and resolves the command, so that a missing command
// is reported when the provider is configured rather than on first use.
func NewSource(opts Options) (*Source, error) {
	if opts.Command == "" {
		return nil, errors.New("exec: a command is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	switch opts.Format {
	case "":
		opts.Format = FormatAuto
	case FormatAuto, FormatRaw, FormatExecCredential, FormatCredentialProcess, FormatAzureCLI, FormatGcloud:
	default:
		return nil, fmt.Errorf("exec: unknown format %q", opts.Format)
	}
	if opts.Kind == 0 {
		opts.Kind = credential.KindBearer
	}
	env := os.Environ()
	for k, v := range opts.Env {
		env = append(env, k+"="+v)
	}
	pathVar := os.Getenv("PATH")
	if p, ok := opts.Env["PATH"]; ok {
		pathVar = p
	}
	path, err := lookPath(opts.Command, pathVar)
	if err != nil {
		return nil, err
	}
	return &Source{opts: opts, path: path, env: env}, nil
}

// lookPath is exec.LookPath against a given PATH: os/exec resolves against
// the plugin's own PATH, which would ignore a PATH set in the config's env.
func lookPath(name, pathVar string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("exec: command %s: %w", name, err)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			// Like a shell, an empty entry would mean the working
			// directory; os/exec refuses that for safety, and so do we.
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	if pathVar == "" {
		return "", fmt.Errorf("exec: command %q not found: PATH is empty; set PATH in the plugin's env or in the config's env, or give an absolute path", name)
	}
	return "", fmt.Errorf("exec: command %q not found in PATH", name)
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// Token runs the command and reads its output.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
	timeout := s.opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		// Finish a little before the host's deadline so that the host
		// gets this plugin's error ("timed out") rather than having to
		// decide that the whole plugin hangs.
		left := time.Until(dl)
		margin := min(left/10, 500*time.Millisecond)
		if left-margin < timeout {
			timeout = left - margin
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("exec: command %s: %w", s.opts.Command, err)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("exec: command %s: %w", s.opts.Command, context.DeadlineExceeded)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stdout, stderr, stdoutOpen, runErr := s.run(cctx)
	out := stdout.buf.Bytes()
	if runErr != nil {
		return nil, s.failure(ctx, cctx, timeout, runErr, out, stderr.buf.String())
	}
	if stdoutOpen {
		return nil, fmt.Errorf("exec: command %s exited but left its stdout open: a process it started in the background still held it, and was killed; "+
			"redirect background processes' output (cmd >/dev/null 2>&1 &) or wait for them", s.opts.Command)
	}
	if stdout.overflow {
		return nil, fmt.Errorf("exec: command %s printed more than %d bytes on stdout", s.opts.Command, maxStdout)
	}
	tok, err := s.parse(out)
	if err != nil {
		return nil, err
	}
	tok.Kind = s.opts.Kind
	return tok, nil
}

// failure builds the error for a command that did not succeed. It names the
// exit status and shows the start of stderr with every line of stdout (the
// token, if one was printed) and anything token-shaped redacted.
func (s *Source) failure(ctx, cctx context.Context, timeout time.Duration, runErr error, stdout []byte, stderr string) error {
	var secrets []string
	for _, l := range strings.Split(string(stdout), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			secrets = append(secrets, l)
		}
	}
	if t, err := s.parse(stdout); err == nil {
		secrets = append(secrets, t.Value.Reveal())
	}
	// The config's env is where a command's own secrets go (VAULT_TOKEN,
	// a client secret), and a failing tool may well quote them. PATH is
	// not one, and is what "not found" messages are about.
	for k, v := range s.opts.Env {
		if k != "PATH" {
			secrets = append(secrets, v)
		}
	}
	detail := ""
	if e := strings.TrimSpace(stderr); e != "" {
		detail = fmt.Sprintf("; stderr: %q", redact.Truncate(redact.Redact(e, secrets...), stderrInError))
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("exec: command %s: %w%s", s.opts.Command, ctx.Err(), detail)
	case cctx.Err() != nil:
		return fmt.Errorf("exec: command %s timed out after %s and was killed%s", s.opts.Command, timeout.Round(time.Millisecond), detail)
	}
	var ee *osexec.ExitError
	if errors.As(runErr, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return fmt.Errorf("exec: command %s exited with status %d%s", s.opts.Command, code, detail)
		}
		return fmt.Errorf("exec: command %s was killed by a signal (%s)%s", s.opts.Command, ee.ProcessState, detail)
	}
	return fmt.Errorf("exec: command %s: %v%s", s.opts.Command, runErr, detail)
}

// parse reads stdout in the configured format. Its errors never quote the
// output: a malformed document may still hold the token.
func (s *Source) parse(out []byte) (*credential.Token, error) {
	trimmed := bytes.TrimSpace(out)
	format := s.opts.Format
	if format == FormatAuto {
		if !bytes.HasPrefix(trimmed, []byte("{")) {
			format = FormatRaw
		} else {
			var probe struct {
				Kind        string          `json:"kind"`
				Version     json.RawMessage `json:"Version"`
				AccessToken json.RawMessage `json:"accessToken"`
				Credential  json.RawMessage `json:"credential"`
			}
			if err := json.Unmarshal(trimmed, &probe); err != nil {
				return nil, s.jsonError("JSON", err)
			}
			switch {
			case probe.Kind == "ExecCredential":
				format = FormatExecCredential
			case probe.Version != nil:
				format = FormatCredentialProcess
			case probe.AccessToken != nil:
				format = FormatAzureCLI
			case probe.Credential != nil:
				format = FormatGcloud
			default:
				return nil, fmt.Errorf("exec: output of %s is JSON but none of the known documents: an ExecCredential (\"kind\": \"ExecCredential\"), a credential_process document (\"Version\": 1), Azure CLI's get-access-token (\"accessToken\") or gcloud's config-helper (\"credential\"); set format", s.opts.Command)
			}
		}
	}
	switch format {
	case FormatRaw:
		line, _, _ := strings.Cut(string(out), "\n")
		line = strings.TrimSpace(line)
		if line == "" {
			return nil, fmt.Errorf("exec: command %s printed no token on the first line of stdout", s.opts.Command)
		}
		if doc := credshape.JSONDocument(line); doc != "" {
			// Sent whole, it would give every key in it to one endpoint.
			return nil, fmt.Errorf("exec: the first line of %s's stdout holds %s, not a token: print the token alone, or set format to the document's", s.opts.Command, doc)
		}
		return &credential.Token{Value: credential.NewSecret(line)}, nil
	case FormatExecCredential:
		return s.parseExecCredential(trimmed)
	case FormatAzureCLI:
		return s.parseAzureCLI(trimmed)
	case FormatGcloud:
		return s.parseGcloud(trimmed)
	default:
		return s.parseCredentialProcess(trimmed)
	}
}

func (s *Source) parseExecCredential(b []byte) (*credential.Token, error) {
	var doc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Status     *struct {
			Token               string `json:"token"`
			ExpirationTimestamp string `json:"expirationTimestamp"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, s.jsonError("ExecCredential", err)
	}
	switch doc.APIVersion {
	case "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1":
	default:
		return nil, fmt.Errorf("exec: output of %s: ExecCredential apiVersion %q is not client.authentication.k8s.io/v1 or v1beta1", s.opts.Command, doc.APIVersion)
	}
	if doc.Kind != "ExecCredential" {
		return nil, fmt.Errorf("exec: output of %s: kind %q is not ExecCredential", s.opts.Command, doc.Kind)
	}
	if doc.Status == nil || doc.Status.Token == "" {
		return nil, fmt.Errorf("exec: output of %s: ExecCredential has no status.token (client certificates are not supported)", s.opts.Command)
	}
	t := &credential.Token{Value: credential.NewSecret(doc.Status.Token)}
	if doc.Status.ExpirationTimestamp != "" {
		exp, err := time.Parse(time.RFC3339, doc.Status.ExpirationTimestamp)
		if err != nil {
			return nil, fmt.Errorf("exec: output of %s: status.expirationTimestamp is not RFC 3339", s.opts.Command)
		}
		t.Expiry = exp
	}
	return t, nil
}

func (s *Source) parseCredentialProcess(b []byte) (*credential.Token, error) {
	var doc struct {
		Version     *int   `json:"Version"`
		AccessToken string `json:"AccessToken"`
		Token       string `json:"Token"`
		Expiration  string `json:"Expiration"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, s.jsonError("credential_process", err)
	}
	if doc.Version == nil || *doc.Version != 1 {
		return nil, fmt.Errorf("exec: output of %s: credential_process Version must be 1", s.opts.Command)
	}
	var v string
	switch {
	case doc.AccessToken != "" && doc.Token != "":
		return nil, fmt.Errorf("exec: output of %s: credential_process has both AccessToken and Token; set one", s.opts.Command)
	case doc.AccessToken != "":
		v = doc.AccessToken
	case doc.Token != "":
		v = doc.Token
	default:
		return nil, fmt.Errorf("exec: output of %s: credential_process has neither AccessToken nor Token (AWS key pairs are not supported)", s.opts.Command)
	}
	t := &credential.Token{Value: credential.NewSecret(v)}
	if doc.Expiration != "" {
		exp, err := time.Parse(time.RFC3339, doc.Expiration)
		if err != nil {
			return nil, fmt.Errorf("exec: output of %s: credential_process Expiration is not RFC 3339", s.opts.Command)
		}
		t.Expiry = exp
	}
	return t, nil
}

// azureCLILocalTime is the layout of Azure CLI's expiresOn: the machine's
// local time without a zone.
const azureCLILocalTime = "2006-01-02 15:04:05.999999"

// parseAzureCLI reads `az account get-access-token -o json`. expires_on
// (epoch seconds, Azure CLI 2.54 and later) is preferred: expiresOn is local
// time without a zone, so it is only as right as the plugin's idea of the
// local zone (TZ in its env, else /etc/localtime).
func (s *Source) parseAzureCLI(b []byte) (*credential.Token, error) {
	var doc struct {
		AccessToken string          `json:"accessToken"`
		ExpiresOn   string          `json:"expiresOn"`
		ExpiresOnTS json.RawMessage `json:"expires_on"`
		TokenType   string          `json:"tokenType"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, s.jsonError("Azure CLI output", err)
	}
	if doc.AccessToken == "" {
		return nil, fmt.Errorf("exec: output of %s: Azure CLI output has no accessToken", s.opts.Command)
	}
	if doc.TokenType != "" && !strings.EqualFold(doc.TokenType, "Bearer") {
		return nil, fmt.Errorf("exec: output of %s: Azure CLI tokenType %q is not Bearer", s.opts.Command, doc.TokenType)
	}
	t := &credential.Token{Value: credential.NewSecret(doc.AccessToken)}
	switch {
	case len(doc.ExpiresOnTS) > 0 && string(doc.ExpiresOnTS) != "null":
		// A number in current releases; a string of digits in some older
		// ones and in MSAL-style documents.
		raw := strings.Trim(string(doc.ExpiresOnTS), `"`)
		secs, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || secs <= 0 {
			return nil, fmt.Errorf("exec: output of %s: Azure CLI expires_on is not a number of seconds since 1970", s.opts.Command)
		}
		t.Expiry = time.Unix(secs, 0)
	case doc.ExpiresOn != "":
		exp, err := time.ParseInLocation(azureCLILocalTime, doc.ExpiresOn, time.Local)
		if err != nil {
			return nil, fmt.Errorf("exec: output of %s: Azure CLI expiresOn is not a local time such as \"2030-01-02 03:04:05.000000\"", s.opts.Command)
		}
		t.Expiry = exp
	}
	return t, nil
}

// parseGcloud reads `gcloud config config-helper --format=json`: the
// credential block's access_token and token_expiry (RFC 3339). The rest of
// the document (configuration, sentinels, id_token) is ignored.
func (s *Source) parseGcloud(b []byte) (*credential.Token, error) {
	var doc struct {
		Credential *struct {
			AccessToken string `json:"access_token"`
			TokenExpiry string `json:"token_expiry"`
		} `json:"credential"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, s.jsonError("gcloud config-helper output", err)
	}
	if doc.Credential == nil || doc.Credential.AccessToken == "" {
		return nil, fmt.Errorf("exec: output of %s: gcloud config-helper output has no credential.access_token", s.opts.Command)
	}
	t := &credential.Token{Value: credential.NewSecret(doc.Credential.AccessToken)}
	if doc.Credential.TokenExpiry != "" {
		exp, err := time.Parse(time.RFC3339, doc.Credential.TokenExpiry)
		if err != nil {
			return nil, fmt.Errorf("exec: output of %s: gcloud credential.token_expiry is not RFC 3339", s.opts.Command)
		}
		t.Expiry = exp
	}
	return t, nil
}

// jsonError describes a decoding failure by position and field only:
// encoding/json's own messages can quote a piece of the input.
func (s *Source) jsonError(what string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("exec: output of %s is not valid %s (syntax error at byte %d)", s.opts.Command, what, se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("exec: output of %s is not valid %s (field %s must be %s, not %s)", s.opts.Command, what, te.Field, te.Type, te.Value)
	default:
		return fmt.Errorf("exec: output of %s is not valid %s", s.opts.Command, what)
	}
}

// capBuffer keeps the first max bytes written and drops the rest, while
// telling the writer that everything was written, so that a chatty command
// is not killed by a broken pipe.
type capBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.overflow = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// Plugin is the exec credential plugin.
type Plugin struct{}

var _ shared.Credential = Plugin{}

// Describe implements shared.Credential.
func (Plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "exec", Version: sdk.BuildVersion()}, nil
}

// Configure implements shared.Credential.
func (Plugin) Configure(_ context.Context, _ string, config map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(config)
	opts := Options{
		Command: c.String("command", sdk.Required),
		Args:    c.StringSlice("args"),
		Env:     c.StringMap("env"),
		Timeout: c.Duration("timeout", DefaultTimeout),
		Format: Format(c.OneOf("format", string(FormatAuto), string(FormatAuto), string(FormatRaw), string(FormatExecCredential),
			string(FormatCredentialProcess), string(FormatAzureCLI), string(FormatGcloud))),
	}
	switch c.OneOf("kind", "bearer", "bearer", "api_key") {
	case "api_key":
		opts.Kind = credential.KindAPIKey
	default:
		opts.Kind = credential.KindBearer
	}
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return NewSource(opts)
}
