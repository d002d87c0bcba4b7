package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/registry"
)

// loadDescribe loads the config to describe it (providers, models, shell
// completion, copilot-env): offline, as validate --offline does, so that no
// secret is read, no identity endpoint reached and no plugin started. The
// problems of this environment (unset variables, missing files and plugin
// binaries) do not fail it: they are returned as unresolved, for the
// command to say which values it could not resolve. The set has no
// sources.
func (a *app) loadDescribe() (set *registry.Set, unresolved config.ErrorList, err error) {
	opts := a.registryOptions()
	opts.Offline = true
	cfg, err := config.Load(a.path(), opts.LookupEnv)
	if cfg == nil {
		return nil, nil, loadError(err)
	}
	if set, err = registry.New(cfg, opts); err != nil {
		return nil, nil, loadError(err)
	}
	var all config.ErrorList
	if errors.As(cfg.Doc.Err(), &all) {
		for _, e := range all {
			if e.Environment {
				unresolved = append(unresolved, e)
			}
		}
	}
	return set, unresolved, nil
}

// unresolvedListed heads the note of providers and models.
const unresolvedListed = "listed without what this environment does not resolve (byokcred validate checks it)"

// noteUnresolved says on stderr which values of the config this
// environment could not resolve: the description did without them, a
// session could not.
func (a *app) noteUnresolved(list config.ErrorList, heading string) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(a.env.Stderr, "byokcred: %s:\n", heading)
	for _, e := range list {
		fmt.Fprintf(a.env.Stderr, "  %s\n", strings.ReplaceAll(e.Error(), "\n", " "))
	}
}

// unresolvedUnder returns the problems of list at path or below it.
func unresolvedUnder(list config.ErrorList, path string) []problemOutput {
	var out []problemOutput
	for _, e := range list {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			out = append(out, problemOutput{Line: e.Pos.Line, Column: e.Pos.Col, Key: e.Path, Message: e.Msg})
		}
	}
	return out
}

// shownValue returns a value of the config fit for printing: the value
// itself, or when its ${VAR} expansion failed here, the file's text (never
// a variable's value).
func shownValue(cfg *config.Config, path, value string) string {
	if value != "" {
		return value
	}
	raw, _ := cfg.Doc.Unexpanded(path)
	return raw
}

// shownBaseURL is the provider's base URL as ShownBaseURL prints it, or the
// file's text redacted the same way when this environment cannot resolve it.
func shownBaseURL(cfg *config.Config, p *registry.Provider) string {
	if p.BaseURL != "" {
		return p.ShownBaseURL()
	}
	return endpoint.Redact(shownValue(cfg, p.Path()+".base_url", ""))
}
