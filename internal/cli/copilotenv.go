package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// copilotEnvVars are the Copilot CLI's BYOK variables that copilot-env
// owns: each is either exported or unset, so that nothing left over from an
// earlier setting changes what the CLI does.
var copilotEnvVars = []string{
	"COPILOT_PROVIDER_TYPE", "COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_API_KEY_COMMAND",
	"COPILOT_PROVIDER_WIRE_API", "COPILOT_PROVIDER_AZURE_API_VERSION", "COPILOT_PROVIDER_WIRE_MODEL",
	"COPILOT_PROVIDER_MODEL_ID", "COPILOT_PROVIDER_MAX_PROMPT_TOKENS", "COPILOT_PROVIDER_MAX_OUTPUT_TOKENS",
	"COPILOT_PROVIDER_HEADERS", "COPILOT_MODEL", "COPILOT_OFFLINE",
	// Static credentials: the key command must be the only one.
	"COPILOT_PROVIDER_API_KEY", "COPILOT_PROVIDER_BEARER_TOKEN",
}

func (a *app) copilotEnvCmd() *cobra.Command {
	var mode, socket string
	var online bool
	cmd := &cobra.Command{
		Use:   "copilot-env [PROVIDER]",
		Short: "Print shell exports that point the Copilot CLI at a provider, with byokcred as its key command",
		Long: `Print the environment, as sh/bash/zsh exports, that makes the Copilot CLI
use PROVIDER (BYOK, offline) with ` + "`byokcred credential`" + ` as its
COPILOT_PROVIDER_API_KEY_COMMAND, which the CLI runs before every model
request. Run ` + "`byokcred agent`" + ` to make that command cheap.

The CLI sends the command's output as the provider type's API key header:
Authorization: Bearer for openai, api-key for azure, x-api-key for anthropic.
An azure provider whose credential is a bearer token (Entra ID) is therefore
expressed through Azure's OpenAI-compatible route (type openai, base URL +
/openai/v1), where the token goes in Authorization. An anthropic provider
with a bearer token cannot be expressed: use ` + "`byokcred proxy`" + `.

Header values that came from environment variables are printed as ${NAME},
for the shell to expand: no secret is printed.`,
		Example:           `  eval "$(byokcred copilot-env foundry)" && copilot -p "Hello"`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if err := checkAgentMode(mode); err != nil {
				return err
			}
			set, unresolved, err := a.loadDescribe()
			if err != nil {
				return err
			}
			defer set.Close()
			p, err := set.Provider(name)
			if err != nil {
				return usageError{err}
			}
			if err := copilotEnvPerUser(set.Config, p); err != nil {
				return err
			}
			if err := a.copilotEnvUnresolved(p, unresolved); err != nil {
				return err
			}
			kind, err := a.copilotEnvKind(cmd.Context(), p, mode, socket)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if e, err := filepath.EvalSymlinks(exe); err == nil {
				exe = e
			}
			cfg, err := filepath.Abs(a.path())
			if err != nil {
				return err
			}
			helper := []string{keyCommand(exe), "-c", cfg, "credential", "--agent", mode}
			if socket != "" {
				helper = append(helper, "--socket", socket)
			}
			helper = append(helper, p.Name)
			env, spans, notes, err := copilotEnv(p, set.Config, kind, helper)
			if err != nil {
				return err
			}
			if online {
				delete(env, "COPILOT_OFFLINE")
			}
			return writeCopilotEnv(a.env.Stdout, p.Name, env, spans, notes)
		},
	}
	cmd.Flags().StringVar(&mode, "agent", agentAuto, "the key command's --agent mode: auto, require, start or off")
	cmd.Flags().StringVar(&socket, "socket", "", "the key command's agent socket (default: its own default)")
	cmd.Flags().BoolVar(&online, "online", false, "leave COPILOT_OFFLINE unset (the CLI may then reach GitHub)")
	return cmd
}

// keyCommand is the program copilot-env prints as the key command: the
// small EXE-credential next to exe when there is one (cmd/byokcred-credential:
// it starts as fast as a minimal Go program, answers from the agent and hands
// every other case to exe, with the same arguments), else exe itself.
func keyCommand(exe string) string {
	base, exeSuffix := strings.CutSuffix(exe, ".exe")
	small := base + "-credential"
	if exeSuffix {
		small += ".exe"
	}
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return small
	}
	return exe
}

// copilotEnvPerUser refuses a provider that acts on behalf of each user
// (kind.UserActor, from the config alone): the Copilot CLI runs the key
// command for nobody, so it could never get a credential. It is refused at
// its auth block, as loading it for a program with no user is, and wraps
// registry.ErrNeedsUser, after which Run names the commands that can act
// for a user.
func copilotEnvPerUser(cfg *config.Config, p *registry.Provider) error {
	if ua, ok := p.Auth.(kind.UserActor); !ok || !ua.ActsForEachUser() {
		return nil
	}
	path := p.Path() + ".auth"
	return config.ErrorList{{File: cfg.Doc.File, Pos: cfg.Doc.Pos(path), Path: path, Err: registry.ErrNeedsUser,
		Msg: "this credential acts on behalf of each user, and this program has no user to supply: the Copilot CLI runs its key command for nobody"}}
}

// copilotEnvUnresolved refuses a provider whose printed values (base URL,
// model, headers…) this environment cannot resolve: the CLI would be
// pointed at a broken endpoint. What only the key command reads (the auth
// block, its plugin) is named on stderr: the command runs later, perhaps
// where it resolves.
func (a *app) copilotEnvUnresolved(p *registry.Provider, unresolved config.ErrorList) error {
	var printed, credentialOnly config.ErrorList
	auth := p.Path() + ".auth"
	plugin := ""
	if p.AuthType == "plugin" && p.Auth != nil {
		if entry, ok := pluginName(p); ok {
			plugin = "plugins." + entry
		}
	}
	for _, e := range unresolved {
		switch {
		case e.Path == auth || strings.HasPrefix(e.Path, auth+"."), plugin != "" && (e.Path == plugin || strings.HasPrefix(e.Path, plugin+".")):
			credentialOnly = append(credentialOnly, e)
		case e.Path == p.Path() || strings.HasPrefix(e.Path, p.Path()+"."):
			printed = append(printed, e)
		}
	}
	if len(printed) > 0 {
		return printed
	}
	a.noteUnresolved(credentialOnly, "the key command will fail here until these resolve")
	return nil
}

// pluginName returns the `plugin:` entry a plugin provider's auth block
// names.
func pluginName(p *registry.Provider) (string, bool) {
	n := p.Provider.Auth
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "plugin" {
			return n.Content[i+1].Value, true
		}
	}
	return "", false
}

// copilotEnvKind returns the kind of the provider's credential, which
// decides the variables' shape for azure and anthropic providers. Most
// auth types know it from the config (kind.CredentialKinder), so no token
// is fetched; for one that knows it only from a token (a plugin), the
// helper's path (the agent first) fetches one — only when the shape
// depends on it.
func (a *app) copilotEnvKind(ctx context.Context, p *registry.Provider, mode, socket string) (credential.Kind, error) {
	if k, ok := p.Auth.(kind.CredentialKinder); ok && k.CredentialKind() != 0 {
		return k.CredentialKind(), nil
	}
	if p.Type == config.TypeOpenAI {
		// Both kinds go in Authorization: the shape is the same.
		return 0, nil
	}
	_, k, err := a.credential(ctx, nil, p.Name, mode, socket)
	return k, err
}

// writeCopilotEnv prints env as the lines a shell evaluates: a comment,
// then an export or unset for each of copilotEnvVars. Every byte is inert
// or quoted: values are single-quoted (the parts spans mark as coming from
// a variable are written "${NAME}", for the shell to expand), and the
// comment, which a newline would end, has every non-printable character
// escaped.
func writeCopilotEnv(w io.Writer, name string, env map[string]string, spans map[string][]endpoint.Span, notes []string) error {
	for _, k := range copilotEnvVars {
		if strings.ContainsRune(env[k], 0) {
			// No shell keeps a NUL in a variable: the CLI would see
			// another value than the one meant.
			return fmt.Errorf("copilot-env: provider %s: %s would hold a NUL byte, which no environment variable can carry", commentSafe(name), k)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# byokcred copilot-env %s: %s\n", commentSafe(name), commentSafe(strings.Join(notes, "; ")))
	for _, k := range copilotEnvVars {
		if v, ok := env[k]; ok {
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuoteSpans(v, spans[k]))
		} else {
			fmt.Fprintf(&b, "unset %s\n", k)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// commentSafe escapes, as Go does in a quoted string, every character of s
// that is not printable (a newline would end a shell comment and start a
// command; a CR or an escape sequence would rewrite the terminal line), and
// every byte that is not UTF-8.
func commentSafe(s string) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, width := utf8.DecodeRuneInString(s[i:])
		w = width
		switch {
		case r == utf8.RuneError && width == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// copilotEnv maps a provider to the Copilot CLI's variables; spans say
// which parts of a value came from environment variables (base URL and
// headers), notes say what was chosen and why.
func copilotEnv(p *registry.Provider, cfg *config.Config, kind credential.Kind, helper []string) (env map[string]string, spans map[string][]endpoint.Span, notes []string, err error) {
	quoted := make([]string, len(helper))
	for i, arg := range helper {
		quoted[i] = shellWord(arg)
	}
	env = map[string]string{
		"COPILOT_PROVIDER_TYPE":            p.Type,
		"COPILOT_PROVIDER_BASE_URL":        p.BaseURL,
		"COPILOT_PROVIDER_API_KEY_COMMAND": strings.Join(quoted, " "),
		"COPILOT_MODEL":                    p.Model,
		"COPILOT_OFFLINE":                  "true",
	}
	spans = map[string][]endpoint.Span{}
	if v := p.BaseURLVars(); len(v) > 0 {
		spans["COPILOT_PROVIDER_BASE_URL"] = v
	}
	notes = []string{fmt.Sprintf("type %s, %s credential", p.Type, kind)}
	if kind == 0 {
		notes = []string{fmt.Sprintf("type %s, credential kind chosen by its auth type at each request", p.Type)}
	}
	switch {
	case p.Type == config.TypeAzure && kind == credential.KindBearer:
		// The CLI would send the token as api-key; Azure's v1 route is
		// OpenAI-compatible and takes it in Authorization.
		env["COPILOT_PROVIDER_TYPE"] = config.TypeOpenAI
		env["COPILOT_PROVIDER_BASE_URL"] = azureV1URL(p.BaseURL, p.BaseURLVars())
		notes = append(notes, "sent through Azure's OpenAI-compatible /openai/v1 route (type openai) so the token goes in Authorization, not api-key")
		if p.APIVersion != "" {
			notes = append(notes, "api_version "+strconv.Quote(p.APIVersion)+" not used: the v1 route has none")
		}
	case p.Type == config.TypeAzure && p.APIVersion != "":
		env["COPILOT_PROVIDER_AZURE_API_VERSION"] = p.APIVersion
	case p.Type == config.TypeAnthropic && kind == credential.KindBearer:
		return nil, nil, nil, fmt.Errorf("copilot-env: provider %s: the Copilot CLI sends the key command's output to anthropic providers as x-api-key, which a bearer token cannot use; run `byokcred proxy` and point the CLI at it instead", p.Name)
	}
	if p.WireAPI != "" {
		env["COPILOT_PROVIDER_WIRE_API"] = p.WireAPI
	}
	if p.WireModel != "" {
		env["COPILOT_PROVIDER_WIRE_MODEL"] = p.WireModel
	}
	for _, m := range cfg.AllModels() {
		if m.Provider != p.Name || m.ID != p.Model {
			continue
		}
		if m.WireModel != "" {
			env["COPILOT_PROVIDER_WIRE_MODEL"] = m.WireModel
		}
		if m.MaxPromptTokens > 0 {
			env["COPILOT_PROVIDER_MAX_PROMPT_TOKENS"] = strconv.Itoa(m.MaxPromptTokens)
		}
		if m.MaxOutputTokens > 0 {
			env["COPILOT_PROVIDER_MAX_OUTPUT_TOKENS"] = strconv.Itoa(m.MaxOutputTokens)
		}
	}
	if len(p.Headers) > 0 {
		// One header per line: a line break in a name or value would add
		// a header (the loader refuses them; this is the last guard).
		var b strings.Builder
		var hs []endpoint.Span
		for i, k := range slices.Sorted(maps.Keys(p.Headers)) {
			v := p.Headers[k]
			if strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
				return nil, nil, nil, fmt.Errorf("copilot-env: provider %s: header %s holds a line break or its value does; fix it in the config (byokcred validate)", p.Name, strconv.Quote(k))
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(k + ": ")
			at := b.Len()
			for _, sp := range p.HeaderVars(k) {
				hs = append(hs, endpoint.Span{Start: at + sp.Start, End: at + sp.End, Name: sp.Name})
			}
			b.WriteString(v)
		}
		env["COPILOT_PROVIDER_HEADERS"] = b.String()
		if len(hs) > 0 {
			spans["COPILOT_PROVIDER_HEADERS"] = hs
		}
	}
	return env, spans, notes, nil
}

// azureV1URL is base with /openai/v1 appended. A trailing slash is
// dropped, unless it came from a variable: that variable is printed as
// ${NAME} for the shell to expand, so its value must stay whole.
func azureV1URL(base string, vars []endpoint.Span) string {
	trimmed := strings.TrimRight(base, "/")
	for _, sp := range vars {
		if sp.End > len(trimmed) {
			if strings.HasSuffix(base, "/") {
				return base + "openai/v1"
			}
			return base + "/openai/v1"
		}
	}
	return trimmed + "/openai/v1"
}

// shellWord quotes s for POSIX shells unless it needs none, so that the
// key command stays readable.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return shellQuote(s)
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellQuoteSpans quotes s for POSIX shells with each part that spans mark
// as a variable's value written as "${NAME}", so that a value that came
// from the environment, possibly a secret, is expanded by the shell
// instead of printed. A span that overlaps another or falls outside s is
// skipped: its bytes are quoted like the rest.
func shellQuoteSpans(s string, spans []endpoint.Span) string {
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.Start < at || sp.End > len(s) || sp.End <= sp.Start || !validShellName(sp.Name) || s[sp.Start:sp.End] == "" {
			continue
		}
		if sp.Start > at {
			b.WriteString(shellQuote(s[at:sp.Start]))
		}
		b.WriteString(`"${` + sp.Name + `}"`)
		at = sp.End
	}
	if at < len(s) || b.Len() == 0 {
		b.WriteString(shellQuote(s[at:]))
	}
	return b.String()
}

// validShellName reports whether name can be written as ${name}: the
// loader allows no other variable names, and anything else here would be
// shell syntax.
func validShellName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	return strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}
