package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

func (a *app) chatCmd() *cobra.Command {
	var model string
	var then []string
	var interactive bool
	var userTokenEnv string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "chat [-m PROVIDER | -m PROVIDER/MODEL] [-i] [PROMPT...] [--then PROVIDER/MODEL PROMPT]...",
		Short: "Chat through the real Copilot runtime with the configured credentials",
		Long: `Send a prompt through the Copilot CLI runtime with the provider's
credentials and print the assistant's reply. The session has no tools and
denies every permission request.

-m PROVIDER uses that provider alone. -m PROVIDER/MODEL (or a default_model
in the config) opens a multi-provider session over every configured model;
each --then "PROVIDER/MODEL PROMPT" then switches that one session to another
model and sends another prompt, so one conversation moves between providers.

-i reads prompts from standard input, one per line, and streams each reply
as it arrives. Type /model PROVIDER/MODEL to switch model, /quit to leave.
In -i mode SIGHUP reloads the config file: a rotated key or a changed scope
takes effect for the session's next request.`,
		Example: `  byokcred chat -m openai "Hello"
  byokcred chat -m foundry/gpt-4.1 "Draft a plan" --then "anthropic/claude-sonnet Review the plan"
  byokcred chat -i -m foundry/gpt-4.1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if !interactive && len(args) == 0 {
				return usagef("chat needs a PROMPT (or -i for interactive mode)")
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if userTokenEnv != "" {
				a.user = envUserToken{a.env, userTokenEnv}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			// An interactive session may run for hours: it follows the
			// config file (SIGHUP reloads it) like a server would.
			var providers registry.Providers
			if interactive {
				live, err := a.loadLive(ctx)
				if err != nil {
					return err
				}
				defer live.Close()
				providers = live
			} else {
				set, err := a.load()
				if err != nil {
					return err
				}
				defer set.Close()
				providers = set
			}
			set := providers.Current()
			type step struct{ model, prompt string }
			var steps []step
			if len(args) > 0 {
				steps = append(steps, step{model, strings.Join(args, " ")})
			}
			for _, t := range then {
				ref, prompt, ok := strings.Cut(strings.TrimSpace(t), " ")
				if !ok || !strings.Contains(ref, "/") || strings.TrimSpace(prompt) == "" {
					return usagef("--then %q: want \"PROVIDER/MODEL PROMPT\"", t)
				}
				steps = append(steps, step{ref, strings.TrimSpace(prompt)})
			}
			multi := strings.Contains(model, "/") || len(then) > 0 || interactive || (model == "" && set.Config.DefaultModel != "")
			c, err := a.openChat(ctx, providers, model, multi, interactive)
			if err != nil {
				return err
			}
			defer c.close()
			for i, st := range steps {
				if i > 0 {
					if err := c.switchModel(ctx, st.model); err != nil {
						return err
					}
				}
				reply, err := c.send(ctx, st.prompt)
				if err != nil {
					return err
				}
				switch {
				case interactive:
				case len(steps) > 1:
					fmt.Fprintf(a.env.Stdout, "[%s] %s\n", c.current, reply)
				default:
					fmt.Fprintln(a.env.Stdout, reply)
				}
			}
			if interactive {
				return c.interact(ctx, a)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&model, "model", "m", "", "PROVIDER, or PROVIDER/MODEL for a multi-provider session")
	cmd.Flags().StringArrayVar(&then, "then", nil, `"PROVIDER/MODEL PROMPT": switch the session's model and send another prompt (repeatable)`)
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "read prompts from stdin and stream replies")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (per run; in -i mode, for the whole conversation)")
	cmd.Flags().StringVar(&userTokenEnv, "user-token-env", "", "act for the user whose access token is in this environment variable (credentials that act on behalf of a user, such as entra on_behalf_of)")
	cmd.RegisterFlagCompletionFunc("model", a.completeModels)
	return cmd
}

// envUserToken is the user's access token from an environment variable
// (e.g. exported from `az account get-access-token`).
type envUserToken struct {
	env  *Env
	name string
}

func (u envUserToken) Token(context.Context) (*credential.Token, error) {
	v, ok := u.env.LookupEnv(u.name)
	if !ok || v == "" {
		return nil, fmt.Errorf("cli: --user-token-env: environment variable %s is not set or empty", u.name)
	}
	return &credential.Token{Value: credential.NewSecret(strings.TrimSpace(v)), Kind: credential.KindBearer}, nil
}

// chat is an open session with the runtime behind it.
type chat struct {
	rt      *copilotcli.Runtime
	s       *copilot.Session
	factory *session.Factory
	current string // the model (provider/id) or provider in use
	multi   bool
}

func (a *app) openChat(ctx context.Context, providers registry.Providers, model string, multi, stream bool) (*chat, error) {
	factory := session.NewFactory(providers, session.Options{})
	set := providers.Current()
	if multi && model != "" && !strings.Contains(model, "/") {
		// A provider name in a multi-provider session: start on its model.
		p, err := set.Provider(model)
		if err != nil {
			return nil, usageError{err}
		}
		model = p.Name + "/" + p.Model
	}
	if multi && model == "" && set.Config.DefaultModel == "" {
		// No default model: start on the default provider's own model.
		p, err := set.Provider("")
		if err != nil {
			return nil, usageError{err}
		}
		model = p.Name + "/" + p.Model
	}
	if !multi {
		if _, err := set.Provider(model); err != nil {
			return nil, usageError{err}
		}
	}
	// The handler first: the factory refuses a config that sets
	// refresh_on_rejection while no handler watches the providers.
	rtOpts := copilotcli.Options{}
	if set.Config.RefreshOnRejection {
		rtOpts.RequestHandler = factory.RequestHandler()
	}
	base := session.ToolFree()
	base.Streaming = &stream
	var sc *copilot.SessionConfig
	var err error
	switch {
	case a.user != nil && multi:
		return nil, usagef("--user-token-env works with a single-provider session: -m PROVIDER")
	case a.user != nil:
		sc, err = factory.SessionConfigFor(ctx, model, a.user, base)
	case multi:
		sc, err = factory.MultiSessionConfig(ctx, model, base)
	default:
		sc, err = factory.SessionConfig(ctx, model, base)
	}
	if err != nil {
		// Told apart by type, not text: a credential's error may quote
		// anything, "unknown model" included.
		if errors.Is(err, session.ErrUnknownModel) || errors.Is(err, session.ErrNoModel) || errors.Is(err, registry.ErrUnknownProvider) {
			return nil, usageError{err}
		}
		return nil, err
	}
	a.secrets.Remember(sc)
	rt, err := copilotcli.Start(ctx, rtOpts)
	if err != nil {
		return nil, err
	}
	s, err := rt.Client.CreateSession(ctx, sc)
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("creating session: %w", err)
	}
	c := &chat{rt: rt, s: s, factory: factory, current: sc.Model, multi: multi}
	if !multi {
		c.current = model
		if c.current == "" {
			p, _ := set.Provider("")
			c.current = p.Name
		}
	}
	if stream {
		w := a.env.Stdout
		s.On(func(ev copilot.SessionEvent) {
			if d, ok := ev.Data.(*copilot.AssistantMessageDeltaData); ok {
				fmt.Fprint(w, d.DeltaContent)
			}
		})
	}
	return c, nil
}

func (c *chat) close() {
	c.s.Disconnect()
	c.rt.Close()
}

func (c *chat) switchModel(ctx context.Context, ref string) error {
	if !c.multi {
		return usagef("switching models needs a multi-provider session: start with -m PROVIDER/MODEL")
	}
	if err := c.factory.SwitchModel(ctx, c.s, ref); err != nil {
		return err
	}
	c.current = ref
	return nil
}

func (c *chat) send(ctx context.Context, prompt string) (string, error) {
	return session.Reply(ctx, c.s, prompt)
}

// interact reads prompts from stdin until EOF, /quit or ctx ends (SIGINT,
// SIGTERM, --timeout). Replies stream to stdout through the delta events.
func (c *chat) interact(ctx context.Context, a *app) error {
	lines := readLines(ctx, a.env.Stdin)
	fmt.Fprintf(a.env.Stderr, "chatting with %s; /model PROVIDER/MODEL to switch, /quit to leave\n", c.current)
	for {
		fmt.Fprintf(a.env.Stderr, "%s> ", c.current)
		var l inputLine
		select {
		case l = <-lines:
		case <-ctx.Done():
			// A read from a terminal cannot be cancelled: stop waiting
			// for it instead, so that Ctrl-C ends the chat at once.
			fmt.Fprintln(a.env.Stderr)
			return ctx.Err()
		}
		if l.eof {
			fmt.Fprintln(a.env.Stderr)
			return l.err
		}
		line := strings.TrimSpace(l.text)
		switch {
		case line == "":
			continue
		case line == "/quit" || line == "/exit":
			return nil
		case strings.HasPrefix(line, "/model"):
			ref := strings.TrimSpace(strings.TrimPrefix(line, "/model"))
			if err := c.switchModel(ctx, ref); err != nil {
				fmt.Fprintln(a.env.Stderr, "byokcred:", a.scrub(err.Error()))
			}
			continue
		case strings.HasPrefix(line, "/"):
			fmt.Fprintln(a.env.Stderr, "commands: /model PROVIDER/MODEL, /quit")
			continue
		}
		if _, err := c.send(ctx, line); err != nil {
			return err
		}
		fmt.Fprintln(a.env.Stdout)
	}
}

// inputLine is one line of input, or the end of it (eof, with the read
// error if any).
type inputLine struct {
	text string
	eof  bool
	err  error
}

// readLines reads r line by line on its own goroutine until ctx ends; a
// read already blocked when ctx ends stays blocked until input or EOF comes.
func readLines(ctx context.Context, r io.Reader) <-chan inputLine {
	ch := make(chan inputLine)
	go func() {
		in := bufio.NewScanner(r)
		in.Buffer(make([]byte, 64<<10), 1<<20)
		for {
			l := inputLine{eof: !in.Scan()}
			if l.eof {
				l.err = in.Err()
			} else {
				l.text = in.Text()
			}
			select {
			case ch <- l:
			case <-ctx.Done():
				return
			}
			if l.eof {
				return
			}
		}
	}()
	return ch
}

// completeModels completes -m with provider names and provider/model ids
// from the config, described as providers does: an unset variable or a
// missing secret must not leave the user with no completion at all.
func (a *app) completeModels(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	set, _, err := a.loadDescribe()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer set.Close()
	var out []string
	for _, n := range append(set.Names(), set.Config.ModelRefs()...) {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeProviders completes a PROVIDER argument.
func (a *app) completeProviders(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	set, _, err := a.loadDescribe()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer set.Close()
	var out []string
	for _, n := range set.Names() {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
