package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/session"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and list every problem with its position",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
			fmt.Fprintf(a.env.Stdout, "%s: OK (%d providers: %s)\n", a.path(), len(set.Names()), strings.Join(set.Names(), ", "))
			return nil
		},
	}
}

func (a *app) providersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "providers",
		Short: "List the configured providers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tAUTH\tBASE URL\tMODEL")
			for _, n := range set.Names() {
				p, _ := set.Provider(n)
				name := n
				if n == set.Config.DefaultProvider {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, p.Type, p.AuthType, p.BaseURL, p.Model)
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
	Claims *provider.Claims `json:"claims,omitempty"`
}

func (a *app) tokenCmd() *cobra.Command {
	var show, asJSON bool
	cmd := &cobra.Command{
		Use:   "token [PROVIDER]",
		Short: "Acquire a credential the way sessions do and describe it (masked)",
		Long: `Acquire a credential through the same path sessions use and print its kind,
expiry and a masked value. --show prints only the raw value, for scripts;
it is the one way byokcred prints a secret.`,
		Args: cobra.MaximumNArgs(1),
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
			if !tok.Expiry.IsZero() {
				e := tok.Expiry.UTC()
				out.ExpiresAt = &e
				out.ExpiresIn = time.Until(tok.Expiry).Round(time.Second).String()
			}
			if c, ok := provider.ParseClaims(tok.Value); ok {
				out.Claims = &c
			}
			if show {
				out.Value = tok.Value.Reveal()
			}
			switch {
			case asJSON:
				enc := json.NewEncoder(a.env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case show:
				fmt.Fprintln(a.env.Stdout, out.Value)
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "provider:\t%s\n", out.Provider)
			fmt.Fprintf(tw, "kind:\t%s\n", out.Kind)
			if out.ExpiresAt != nil {
				fmt.Fprintf(tw, "expires:\t%s (in %s)\n", out.ExpiresAt.Format(time.RFC3339), out.ExpiresIn)
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
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&show, "show", false, "print the raw credential (only the value, unless --json)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object (value masked unless --show)")
	return cmd
}

func (a *app) chatCmd() *cobra.Command {
	var model string
	var then []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "chat [-m PROVIDER | -m PROVIDER/MODEL] PROMPT... [--then PROVIDER/MODEL PROMPT]...",
		Short: "Send prompts through the real Copilot runtime and print the replies",
		Long: `Send a prompt through the Copilot CLI runtime with the provider's
credentials and print the assistant's reply. The session has no tools and
denies every permission request.

-m PROVIDER uses that provider alone. -m PROVIDER/MODEL (or a default_model
in the config) opens a multi-provider session over every configured model;
each --then "PROVIDER/MODEL PROMPT" then switches that one session to another
model and sends another prompt, so one conversation moves between providers.`,
		Example: `  byokcred chat -m openai "Hello"
  byokcred chat -m foundry/gpt-4.1 "Draft a plan" --then "anthropic/claude-sonnet Review the plan"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
			factory := session.NewFactory(set, session.Options{})
			type step struct{ model, prompt string }
			steps := []step{{model, strings.Join(args, " ")}}
			for _, t := range then {
				ref, prompt, ok := strings.Cut(strings.TrimSpace(t), " ")
				if !ok || !strings.Contains(ref, "/") || strings.TrimSpace(prompt) == "" {
					return usagef("--then %q: want \"PROVIDER/MODEL PROMPT\"", t)
				}
				steps = append(steps, step{ref, strings.TrimSpace(prompt)})
			}
			multi := strings.Contains(model, "/") || len(then) > 0 || (model == "" && set.Config.DefaultModel != "")
			if multi && model != "" && !strings.Contains(model, "/") {
				// A provider name with --then: start on its own model.
				p, err := set.Provider(model)
				if err != nil {
					return usageError{err}
				}
				steps[0].model = p.Name + "/" + p.Model
			}
			if !multi {
				if _, err := set.Provider(model); err != nil {
					return usageError{err}
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var sc *copilot.SessionConfig
			if multi {
				sc, err = factory.MultiSessionConfig(ctx, steps[0].model, session.ToolFree())
			} else {
				sc, err = factory.SessionConfig(ctx, model, session.ToolFree())
			}
			if err != nil {
				if strings.Contains(err.Error(), "unknown model") || strings.Contains(err.Error(), "no model given") {
					return usageError{err}
				}
				return err
			}
			rtOpts := copilotcli.Options{}
			if set.Config.RefreshOnRejection {
				rtOpts.RequestHandler = session.RequestHandler(set)
			}
			rt, err := copilotcli.Start(ctx, rtOpts)
			if err != nil {
				return err
			}
			defer rt.Close()
			s, err := rt.Client.CreateSession(ctx, sc)
			if err != nil {
				return fmt.Errorf("creating session: %w", err)
			}
			defer s.Disconnect()
			current := sc.Model
			for i, st := range steps {
				if i > 0 {
					if err := factory.SwitchModel(ctx, s, st.model); err != nil {
						return err
					}
					current = st.model
				}
				reply, err := session.Reply(ctx, s, st.prompt)
				if err != nil {
					return err
				}
				if len(steps) > 1 {
					fmt.Fprintf(a.env.Stdout, "[%s] %s\n", current, reply)
				} else {
					fmt.Fprintln(a.env.Stdout, reply)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&model, "model", "m", "", "PROVIDER, or PROVIDER/MODEL for a multi-provider session")
	cmd.Flags().StringArrayVar(&then, "then", nil, `"PROVIDER/MODEL PROMPT": switch the session's model and send another prompt (repeatable)`)
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func (a *app) modelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "models",
		Short: "List the selectable provider/model ids for multi-provider sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
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
