package cli

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
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
			vars := map[string]string{} // value → variable, for headers
			opts := a.registryOptions()
			opts.LookupEnv = func(k string) (string, bool) {
				v, ok := a.env.LookupEnv(k)
				if v != "" {
					vars[v] = k
				}
				return v, ok
			}
			set, err := registry.Load(a.path(), opts)
			if err != nil {
				return loadError(err)
			}
			defer set.Close()
			p, err := set.Provider(name)
			if err != nil {
				return usageError{err}
			}
			// The kind decides the shape; the same path as the helper's
			// (the agent first) gives it.
			_, kind, err := a.credential(cmd.Context(), set, p.Name, mode, socket)
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
			helper := []string{exe, "-c", cfg, "credential", "--agent", mode}
			if socket != "" {
				helper = append(helper, "--socket", socket)
			}
			helper = append(helper, p.Name)
			env, notes, err := copilotEnv(p, set.Config, kind, helper)
			if err != nil {
				return err
			}
			if online {
				delete(env, "COPILOT_OFFLINE")
			}
			fmt.Fprintf(a.env.Stdout, "# byokcred copilot-env %s: %s\n", p.Name, strings.Join(notes, "; "))
			for _, k := range copilotEnvVars {
				v, ok := env[k]
				switch {
				case !ok:
					fmt.Fprintf(a.env.Stdout, "unset %s\n", k)
				case k == "COPILOT_PROVIDER_HEADERS":
					fmt.Fprintf(a.env.Stdout, "export %s=%s\n", k, shellQuoteVars(v, vars))
				default:
					fmt.Fprintf(a.env.Stdout, "export %s=%s\n", k, shellQuote(v))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "agent", agentAuto, "the key command's --agent mode: auto, require, start or off")
	cmd.Flags().StringVar(&socket, "socket", "", "the key command's agent socket (default: its own default)")
	cmd.Flags().BoolVar(&online, "online", false, "leave COPILOT_OFFLINE unset (the CLI may then reach GitHub)")
	return cmd
}

// copilotEnv maps a provider to the Copilot CLI's variables; notes say
// what was chosen and why.
func copilotEnv(p *registry.Provider, cfg *config.Config, kind provider.Kind, helper []string) (env map[string]string, notes []string, err error) {
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
	notes = []string{fmt.Sprintf("type %s, %s credential", p.Type, kind)}
	switch {
	case p.Type == config.TypeAzure && kind == provider.KindBearer:
		// The CLI would send the token as api-key; Azure's v1 route is
		// OpenAI-compatible and takes it in Authorization.
		env["COPILOT_PROVIDER_TYPE"] = config.TypeOpenAI
		env["COPILOT_PROVIDER_BASE_URL"] = strings.TrimRight(p.BaseURL, "/") + "/openai/v1"
		notes = append(notes, "sent through Azure's OpenAI-compatible /openai/v1 route (type openai) so the token goes in Authorization, not api-key")
		if p.APIVersion != "" {
			notes = append(notes, "api_version "+p.APIVersion+" not used: the v1 route has none")
		}
	case p.Type == config.TypeAzure && p.APIVersion != "":
		env["COPILOT_PROVIDER_AZURE_API_VERSION"] = p.APIVersion
	case p.Type == config.TypeAnthropic && kind == provider.KindBearer:
		return nil, nil, fmt.Errorf("copilot-env: provider %s: the Copilot CLI sends the key command's output to anthropic providers as x-api-key, which a bearer token cannot use; run `byokcred proxy` and point the CLI at it instead", p.Name)
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
		var lines []string
		for _, k := range slices.Sorted(maps.Keys(p.Headers)) {
			lines = append(lines, k+": "+p.Headers[k])
		}
		env["COPILOT_PROVIDER_HEADERS"] = strings.Join(lines, "\n")
	}
	return env, notes, nil
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

// shellQuoteVars quotes s for POSIX shells with every value in vars (value
// → variable name) written as "${NAME}", so that a value that came from the
// environment, possibly a secret, is expanded by the shell instead of
// printed. Longer values go first, so one containing another is replaced
// whole.
func shellQuoteVars(s string, vars map[string]string) string {
	values := slices.SortedFunc(maps.Keys(vars), func(x, y string) int {
		if len(x) != len(y) {
			return len(y) - len(x)
		}
		return strings.Compare(x, y)
	})
	var b strings.Builder
	for len(s) > 0 {
		at, val := len(s), ""
		for _, v := range values {
			if i := strings.Index(s, v); i >= 0 && i < at {
				at, val = i, v
			}
		}
		if at > 0 {
			b.WriteString(shellQuote(s[:at]))
		}
		if val == "" {
			break
		}
		b.WriteString(`"${` + vars[val] + `}"`)
		s = s[at+len(val):]
	}
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}
