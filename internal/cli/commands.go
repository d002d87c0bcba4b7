package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/schema"
	"github.com/byokcred/byokcred/session"
)

func (a *app) validateCmd() *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and list every problem with its position",
		Long: `Check the config file and list every problem with its position.

By default it checks this machine too: environment variables set, secret
files present and private, plugin binaries found. With --offline (for CI
without production secrets) it checks the file's structure and references
only: nothing is read but the file, no secret, no plugin started; unset
variables, missing files and binaries are not reported. Live checks
(fetching a token) are doctor's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A per-user (on-behalf-of) provider is valid config even though
			// validate has no user to act for: it only checks the file.
			a.checkOnly = true
			var set *registry.Set
			var err error
			if offline {
				set, err = a.loadOffline()
			} else {
				// Plugins check their own config blocks (Configure, no
				// token fetched), so a typo there shows now, at its
				// position, not at the first model request — and beside
				// the file's other problems, not after they are fixed.
				cctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
				set, err = registry.LoadChecked(cctx, a.path(), a.registryOptions())
				err = loadError(err)
				cancel()
			}
			if a.output == "json" {
				return a.validateJSON(set, err)
			}
			if err != nil {
				return err
			}
			defer set.Close()
			for _, w := range configWarnings(set.Config) {
				fmt.Fprintf(a.env.Stderr, "byokcred: warning: %s\n", w.Error())
			}
			noun := "providers"
			if len(set.Names()) == 1 {
				noun = "provider"
			}
			mode := ""
			if offline {
				mode = ", offline: environment not checked"
			}
			fmt.Fprintf(a.env.Stdout, "%s: OK (%d %s: %s%s)\n", a.path(), len(set.Names()), noun, strings.Join(set.Names(), ", "), mode)
			return nil
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "check structure and references only: no environment variables, files or plugin binaries needed")
	return cmd
}

// configWarnings lists what a valid config sets that likely does not do
// what was meant: an azure provider without api_version whose base_url
// has a path (the runtime then keeps only the host and sends requests to
// /openai/v1/…, dropping the path).
func configWarnings(cfg *config.Config) config.ErrorList {
	var out config.ErrorList
	for _, name := range cfg.Names() {
		p := cfg.Providers[name]
		if p.Type != config.TypeAzure || p.APIVersion != "" {
			continue
		}
		u, err := url.Parse(p.BaseURL)
		if err != nil || strings.Trim(u.Path, "/") == "" {
			continue
		}
		// Shown as printed elsewhere: a part from a variable is ${NAME}.
		shown := p.ShownBaseURL()
		if _, after, ok := strings.Cut(shown, "://"); ok {
			if i := strings.IndexByte(after, '/'); i >= 0 {
				shown = after[i:]
			}
		}
		path := p.Path() + ".base_url"
		out = append(out, &config.Error{File: cfg.Doc.File, Pos: cfg.Doc.Pos(path), Path: path,
			Msg: fmt.Sprintf("type azure without api_version sends requests to %s://%s/openai/v1/…: the path %s of base_url is dropped; set api_version for the /openai/deployments/… routes, or remove the path", u.Scheme, u.Host, shown)})
	}
	return out
}

// loadOffline loads the config without building sources or reporting
// problems of the environment.
func (a *app) loadOffline() (*registry.Set, error) {
	opts := a.registryOptions()
	opts.Offline = true
	set, err := registry.Load(a.path(), opts)
	return set, loadError(err)
}

// validateOutput is `validate -o json`.
type validateOutput struct {
	File      string          `json:"file"`
	OK        bool            `json:"ok"`
	Providers []string        `json:"providers,omitempty"`
	Problems  []problemOutput `json:"problems,omitempty"`
	// Warnings are legal settings that likely do not do what was meant.
	Warnings []problemOutput `json:"warnings,omitempty"`
}

type problemOutput struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

func (a *app) validateJSON(set *registry.Set, err error) error {
	out := validateOutput{File: a.path(), OK: err == nil}
	if set != nil {
		defer set.Close()
		out.Providers = set.Names()
		for _, w := range configWarnings(set.Config) {
			out.Warnings = append(out.Warnings, problemOutput{Line: w.Pos.Line, Column: w.Pos.Col, Key: w.Path, Message: w.Msg})
		}
	}
	var el config.ErrorList
	switch {
	case errors.As(err, &el):
		for _, e := range el {
			out.Problems = append(out.Problems, problemOutput{Line: e.Pos.Line, Column: e.Pos.Col, Key: e.Path, Message: e.Msg})
		}
	case err != nil:
		out.Problems = []problemOutput{{Message: err.Error()}}
	}
	if encErr := a.printJSON(out); encErr != nil {
		return encErr
	}
	if err != nil {
		return usageError{silentFailure{}}
	}
	return nil
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) providersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "providers",
		Short: "List the configured providers",
		Long: `List each provider: its name (the default one marked), type, auth type,
base URL and model.

The list describes the config file alone, as validate --offline checks it:
no secret is read, no identity endpoint reached, no plugin started. A value
this environment cannot resolve (a ${VAR} that is unset) is shown as the
file writes it, and each such value is named on stderr (with -o json, also
in the provider's "unresolved" list).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, unresolved, err := a.loadDescribe()
			if err != nil {
				return err
			}
			defer set.Close()
			a.noteUnresolved(unresolved, unresolvedListed)
			if a.output == "json" {
				type row struct {
					Name       string          `json:"name"`
					Type       string          `json:"type"`
					Auth       string          `json:"auth"`
					BaseURL    string          `json:"base_url"`
					Model      string          `json:"model,omitempty"`
					Default    bool            `json:"default,omitempty"`
					Unresolved []problemOutput `json:"unresolved,omitempty"`
				}
				rows := []row{}
				for _, n := range set.Names() {
					p, _ := set.Provider(n)
					rows = append(rows, row{n, p.Type, p.AuthType, shownBaseURL(set.Config, p), shownValue(set.Config, p.Path()+".model", p.Model), n == set.Config.DefaultProvider, unresolvedUnder(unresolved, p.Path())})
				}
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tAUTH\tBASE URL\tMODEL")
			for _, n := range set.Names() {
				p, _ := set.Provider(n)
				name := n
				if n == set.Config.DefaultProvider {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, p.Type, p.AuthType, shownBaseURL(set.Config, p), shownValue(set.Config, p.Path()+".model", p.Model))
			}
			return tw.Flush()
		},
	}
}

// tokenOutput is `byokcred token --json`.
type tokenOutput struct {
	Provider  string     `json:"provider"`
	Kind      string     `json:"kind"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	ExpiresIn string     `json:"expires_in,omitempty"`
	Value     string     `json:"value"`
	Masked    bool       `json:"masked"`
	// Claims of a JWT bearer token, read without checking its signature.
	Claims *credential.Claims `json:"claims,omitempty"`
	// Facts the auth type reads from its token (a Bedrock key's access
	// key id and region), never its secret parts.
	Facts []kind.TokenFact `json:"facts,omitempty"`
}

func (a *app) tokenCmd() *cobra.Command {
	var show, asJSON bool
	cmd := &cobra.Command{
		Use:   "token [PROVIDER]",
		Short: "Acquire a credential the way sessions do and describe it (masked)",
		Long: `Acquire a credential through the same path sessions use and print its kind,
expiry and a masked value. --show prints only the raw value, for scripts;
it is the one way byokcred prints a secret.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			p, err := set.Provider(name)
			if err != nil {
				return usageError{err}
			}
			tok, err := session.NewFactory(set, session.Options{}).Token(cmd.Context(), p)
			if err != nil {
				return err
			}
			out := tokenOutput{Provider: p.Name, Kind: tok.Kind.String(), Value: tok.Value.Mask(), Masked: !show}
			now := time.Now()
			if !tok.Expiry.IsZero() {
				e := tok.Expiry.UTC()
				out.ExpiresAt = &e
				out.ExpiresIn = expiresInDuration(tok.Expiry, now)
			}
			if c, ok := credential.ParseClaims(tok.Value); ok {
				out.Claims = &c
			}
			out.Facts = p.DescribeToken(tok)
			if show {
				out.Value = tok.Value.Reveal()
			}
			switch {
			case asJSON || a.output == "json":
				return a.printJSON(out)
			case show:
				fmt.Fprintln(a.env.Stdout, out.Value)
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "provider:\t%s\n", out.Provider)
			fmt.Fprintf(tw, "kind:\t%s\n", out.Kind)
			if out.ExpiresAt != nil {
				fmt.Fprintf(tw, "expires:\t%s (%s)\n", out.ExpiresAt.Format(time.RFC3339), expiresIn(tok.Expiry, now))
			} else {
				fmt.Fprintf(tw, "expires:\tnever\n")
			}
			fmt.Fprintf(tw, "value:\t%s\n", out.Value)
			if c := out.Claims; c != nil {
				fmt.Fprintf(tw, "audience:\t%s\n", c.Audience)
				fmt.Fprintf(tw, "tenant:\t%s\n", c.TenantID)
				fmt.Fprintf(tw, "object id:\t%s\n", c.ObjectID)
				if c.AppID != "" {
					fmt.Fprintf(tw, "app id:\t%s\n", c.AppID)
				}
				fmt.Fprintf(tw, "\t(JWT claims read without a signature check: for diagnosis only)\n")
			}
			for _, f := range out.Facts {
				fmt.Fprintf(tw, "%s:\t%s\n", f.Name, f.Value)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&show, "show", false, "print the raw credential (only the value, unless --json)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object (value masked unless --show)")
	return cmd
}

func (a *app) modelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "models",
		Short: "List the selectable provider/model ids for multi-provider sessions",
		Long: `List every model a multi-provider session can select, as provider/id (the
form chat -m and default_model take): the models: entries and each
provider's own model. The default model is marked; WIRE MODEL is the name
sent to the provider (an Azure deployment).

Like providers, it describes the config file alone: no secret is read, no
identity endpoint reached, no plugin started, and each value this
environment cannot resolve is named on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, unresolved, err := a.loadDescribe()
			if err != nil {
				return err
			}
			defer set.Close()
			a.noteUnresolved(unresolved, unresolvedListed)
			if a.output == "json" {
				type row struct {
					Model     string `json:"model"`
					Provider  string `json:"provider"`
					ID        string `json:"id"`
					WireModel string `json:"wire_model,omitempty"`
					Name      string `json:"name,omitempty"`
					Default   bool   `json:"default,omitempty"`
				}
				rows := []row{}
				for _, m := range set.Config.AllModels() {
					rows = append(rows, row{m.Ref(), m.Provider, m.ID, m.WireModel, m.Name, m.Ref() == set.Config.DefaultModel})
				}
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tPROVIDER TYPE\tAUTH\tWIRE MODEL\tNAME")
			for _, m := range set.Config.AllModels() {
				p, _ := set.Provider(m.Provider)
				ref := m.Ref()
				if ref == set.Config.DefaultModel {
					ref += " (default)"
				}
				wire := m.WireModel
				if wire == "" {
					wire = m.ID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ref, p.Type, p.AuthType, wire, m.Name)
			}
			return tw.Flush()
		},
	}
}

func (a *app) schemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the config file's JSON Schema, with every auth type this build knows",
		Long: `Print the JSON Schema of the config file as this binary accepts it:
the core keys and the keys of every auth type compiled in, custom ones
included. Point an editor at it (yaml-language-server: $schema=...).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := schema.Generate()
			if err != nil {
				return err
			}
			_, err = a.env.Stdout.Write(b)
			return err
		},
	}
}
