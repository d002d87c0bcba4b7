package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// Check outcomes.
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
)

type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

type doctorReport struct {
	Provider string           `json:"provider"`
	Type     string           `json:"type"`
	Auth     string           `json:"auth"`
	OK       bool             `json:"ok"`
	Checks   []check          `json:"checks"`
	Chain    []kind.ChainLink `json:"default_credential_chain,omitempty"`
}

func (r *doctorReport) add(name, status, format string, args ...any) {
	r.Checks = append(r.Checks, check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	if status == statusFail {
		r.OK = false
	}
}

func (a *app) doctorCmd() *cobra.Command {
	var probe, asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [PROVIDER]",
		Short: "Diagnose each provider's config and credential",
		Long: `For each provider (or the one named): is the config valid, can a
credential be acquired (how long it took, its kind and expiry), and for JWT
bearer tokens which audience, tenant and object id they carry — with a
warning when the audience is not what the endpoint expects. For Entra ID with
credential: default, each link of DefaultAzureCredential's chain is tried on
its own to show which one answers and why the others failed. --probe also
calls the endpoint's model list with the credential and reports 2xx, 401 or
403 plainly.

The exit code is 0 when every check passed (warnings allowed), 1 otherwise.
JWT claims are read without a signature check: for diagnosis only.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := a.load()
			if err != nil {
				return err
			}
			defer set.Close()
			names := set.Names()
			if len(args) == 1 {
				if _, err := set.Provider(args[0]); err != nil {
					return usageError{err}
				}
				names = args
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			factory := session.NewFactory(set, session.Options{})
			var reports []*doctorReport
			allOK := true
			for _, n := range names {
				p, _ := set.Provider(n)
				r := diagnose(ctx, factory, p, probe)
				allOK = allOK && r.OK
				reports = append(reports, r)
			}
			if asJSON || a.output == "json" {
				if err := a.printJSON(reports); err != nil {
					return err
				}
			} else {
				printDoctor(a, reports)
			}
			if !allOK {
				return silentFailure{}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&probe, "probe", false, "also call each endpoint's model list with the credential")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (same as --output json)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}

// silentFailure exits 1 without another message: the report said it all.
type silentFailure struct{}

func (silentFailure) Error() string { return "" }

func diagnose(ctx context.Context, factory *session.Factory, p *registry.Provider, probe bool) *doctorReport {
	r := &doctorReport{Provider: p.Name, Type: p.Type, Auth: p.AuthType, OK: true}
	r.add("config", statusOK, "valid (%s %s, model %s)", p.Type, p.ShownBaseURL(), p.Model)
	start := time.Now()
	tok, err := factory.Token(ctx, p)
	took := time.Since(start).Round(time.Millisecond)
	if d, ok := p.Auth.(kind.Diagnoser); ok {
		r.Chain = d.Diagnose(ctx)
		if len(r.Chain) > 0 {
			r.add("default chain", chainStatus(r.Chain), "%s", chainSummary(r.Chain))
		}
	}
	if err != nil {
		r.add("credential", statusFail, "%v (after %s)", err, took)
		return r
	}
	exp := "never expires"
	if !tok.Expiry.IsZero() {
		exp = "expires " + expiresIn(tok.Expiry, time.Now())
	}
	r.add("credential", statusOK, "%s, %s, %s (took %s)", tok.Kind, tok.Value.Mask(), exp, took)
	if c, ok := credential.ParseClaims(tok.Value); ok {
		r.add("claims", statusOK, "%s (read without a signature check)", c)
		if want := expectedAudiences(p); want != nil && !audienceOK(c.Audience, want) {
			r.add("audience", statusWarn, "token audience %q, but this endpoint expects %s: set auth.scope to %s/.default", c.Audience, strings.Join(want, " or "), want[0])
		}
	}
	var facts []string
	for _, f := range p.DescribeToken(tok) {
		facts = append(facts, f.Name+": "+f.Value)
	}
	if len(facts) > 0 {
		r.add("token", statusOK, "%s", strings.Join(facts, "; "))
	}
	if probe {
		probeEndpoint(ctx, r, p, tok)
	}
	return r
}

// azureAudiences are the token audiences Azure OpenAI / Azure AI Foundry
// endpoints accept.
var azureAudiences = []string{"https://cognitiveservices.azure.com", "https://ai.azure.com"}

// expectedAudiences returns the audiences p's endpoint accepts, or nil when
// byokcred cannot know (a gateway decides for itself).
func expectedAudiences(p *registry.Provider) []string {
	host := ""
	if u, err := url.Parse(p.BaseURL); err == nil {
		host = u.Hostname()
	}
	if p.Type == config.TypeAzure || strings.HasSuffix(host, ".azure.com") {
		return azureAudiences
	}
	return nil
}

func audienceOK(aud string, want []string) bool {
	for _, w := range want {
		if strings.TrimSuffix(aud, "/") == w {
			return true
		}
	}
	return false
}

func chainStatus(links []kind.ChainLink) string {
	for _, l := range links {
		if l.Answered {
			return statusOK
		}
	}
	return statusFail
}

func chainSummary(links []kind.ChainLink) string {
	var parts []string
	for _, l := range links {
		if l.Answered {
			parts = append([]string{l.Name + " answered"}, parts...)
		} else {
			parts = append(parts, l.Name+": "+l.Err)
		}
	}
	return strings.Join(parts, "; ")
}

// probeEndpoint lists the endpoint's models with the credential, the
// cheapest authenticated call each API has.
func probeEndpoint(ctx context.Context, r *doctorReport, p *registry.Provider, tok *credential.Token) {
	var path, query string
	switch p.Type {
	case config.TypeAzure:
		if p.APIVersion != "" {
			path, query = "/openai/models", "api-version="+url.QueryEscape(p.APIVersion)
		} else {
			path = "/openai/v1/models"
		}
	case config.TypeAnthropic:
		path = "/v1/models"
	default:
		path = "/models"
	}
	target, err := probeURL(p.BaseURL, path, query)
	if err != nil {
		r.add("probe", statusFail, "%v", err)
		return
	}
	// The base URL's query may hold a key (?code=…), and so may any part
	// that came from a variable (a path segment, a ;param): what is
	// printed is redacted, what is sent is not.
	shown := shownProbeURL(p.ShownBaseURL(), path, query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		r.add("probe", statusFail, "GET %s: cannot build the request", shown)
		return
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	proxy.SetCredential(req.Header, p.Type, tok)
	if p.Type == config.TypeAnthropic {
		req.Header.Set("anthropic-version", "2023-06-01")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL; print its cause only.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		r.add("probe", statusFail, "GET %s: %v", shown, err)
		return
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		r.add("probe", statusOK, "GET %s → %d: the endpoint accepts the credential", shown, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		r.add("probe", statusFail, "GET %s → 401: the endpoint rejects the credential (wrong key, wrong audience/scope, or expired)", shown)
	case resp.StatusCode == http.StatusForbidden:
		r.add("probe", statusFail, "GET %s → 403: the credential is valid but lacks permission (for Entra ID: assign a role such as Cognitive Services OpenAI User)", shown)
	default:
		r.add("probe", statusWarn, "GET %s → %d", shown, resp.StatusCode)
	}
}

// shownProbeURL is probeURL for printing, on the text of a redacted base
// URL (its ${NAME} and [REDACTED] parts would not survive being parsed and
// escaped again).
func shownProbeURL(shownBase, path, query string) string {
	base, frag, hasFrag := strings.Cut(shownBase, "#")
	base, q, hasQuery := strings.Cut(base, "?")
	out := strings.TrimRight(base, "/") + path
	switch {
	case hasQuery && q != "" && query != "":
		out += "?" + q + "&" + query
	case hasQuery && q != "":
		out += "?" + q
	case query != "":
		out += "?" + query
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// probeURL appends path to base's path and query to its query: a base URL
// may carry a query of its own (?code=… for a gateway's key).
func probeURL(base, path, query string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", errors.New("base_url does not parse")
	}
	u = u.JoinPath(path)
	switch {
	case u.RawQuery == "":
		u.RawQuery = query
	case query != "":
		u.RawQuery += "&" + query
	}
	return u.String(), nil
}

func printDoctor(a *app, reports []*doctorReport) {
	w := a.env.Stdout
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		verdict := "OK"
		if !r.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "%s (%s, auth %s): %s\n", r.Provider, r.Type, r.Auth, verdict)
		for _, c := range r.Checks {
			mark := map[string]string{statusOK: "  ok  ", statusWarn: " WARN ", statusFail: " FAIL "}[c.Status]
			fmt.Fprintf(w, "  [%s] %-13s %s\n", mark, c.Name, c.Detail)
		}
	}
}
