package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// resultAuth builds the kind.Result its Build key names, so that each field
// of a Result is seen to reach the registry.
type resultAuth struct {
	Build string `yaml:"build"`
}

// resultSeen records what the registry did with resultAuth's results.
var resultSeen struct {
	mu     sync.Mutex
	tuned  []string // cache names Result.Cache was called with
	checks int
}

func (a *resultAuth) Validate(*kind.Build) {}

func (a *resultAuth) Source(*kind.Build) (kind.Result, error) {
	src := credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret("tok-" + a.Build)})
	switch a.Build {
	case "plain":
		return kind.Result{Source: src}, nil
	case "per_session":
		return kind.Result{Source: src, Refresh: kind.RefreshPerSession}, nil
	case "self_caching":
		return kind.Result{Source: src, SelfCaching: true}, nil
	case "tuned":
		return kind.Result{Source: src, Cache: func(o *credential.CacheOptions) {
			resultSeen.mu.Lock()
			defer resultSeen.mu.Unlock()
			resultSeen.tuned = append(resultSeen.tuned, o.Name)
		}}, nil
	case "described":
		return kind.Result{Source: src, Describe: func(tok *credential.Token) []kind.TokenFact {
			return []kind.TokenFact{{Name: "fingerprint", Value: tok.Value.Fingerprint()}}
		}}, nil
	case "checked":
		return kind.Result{Source: src, Check: func(context.Context) error {
			resultSeen.mu.Lock()
			defer resultSeen.mu.Unlock()
			resultSeen.checks++
			return errors.New("the issuer refused the config")
		}}, nil
	case "empty":
		return kind.Result{}, nil
	}
	return kind.Result{}, errors.New("unknown build " + a.Build)
}

func init() { kind.Register("test-result", func() kind.AuthConfig { return new(resultAuth) }) }

// TestResultReachesTheRegistry: every field of the kind.Result a kind
// builds decides how the registry serves the provider (issue 24, item 1:
// one result value instead of optional interfaces found by type assertion).
func TestResultReachesTheRegistry(t *testing.T) {
	type got struct {
		Refresh  string
		Cached   bool
		Facts    []kind.TokenFact
		Tuned    []string
		Checks   int
		CheckErr string
	}
	tests := []struct {
		name  string
		build string
		want  got
	}{
		{"the zero fields: cached, per request", "plain", got{Refresh: kind.RefreshPerRequest, Cached: true}},
		{"Refresh", "per_session", got{Refresh: kind.RefreshPerSession, Cached: true}},
		{"SelfCaching: no cache", "self_caching", got{Refresh: kind.RefreshPerRequest}},
		{"Cache tunes the provider's cache", "tuned", got{Refresh: kind.RefreshPerRequest, Cached: true, Tuned: []string{"a"}}},
		{"Describe", "described", got{Refresh: kind.RefreshPerRequest, Cached: true,
			Facts: []kind.TokenFact{{Name: "fingerprint", Value: credential.NewSecret("tok-described").Fingerprint()}}}},
		{"Check, once for two providers sharing the source", "checked", got{Refresh: kind.RefreshPerRequest, Cached: true, Checks: 1,
			CheckErr: "providers.a.auth: the issuer refused the config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resultSeen.mu.Lock()
			resultSeen.tuned, resultSeen.checks = nil, 0
			resultSeen.mu.Unlock()
			path := configtest.Write(t, `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-result, build: `+tc.build+`}}
  b: {type: openai, base_url: https://b.example, model: m, auth: {type: test-result, build: `+tc.build+`}}
`)
			set, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			p, _ := set.Provider("a")
			tok, err := p.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			g := got{Refresh: p.Refresh, Cached: p.Cache != nil, Facts: p.DescribeToken(tok)}
			if err := set.Check(context.Background()); err != nil {
				g.CheckErr = err.Error()
				if i := strings.Index(g.CheckErr, "providers."); i >= 0 {
					g.CheckErr = g.CheckErr[i:] // drop the file:line:col
				}
			}
			resultSeen.mu.Lock()
			g.Tuned, g.Checks = resultSeen.tuned, resultSeen.checks
			resultSeen.mu.Unlock()
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResultWithoutSource: a kind that builds no source is refused at its
// auth block, naming the field to set.
func TestResultWithoutSource(t *testing.T) {
	path := configtest.Write(t, `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-result, build: empty}}
`)
	set, err := Load(path, Options{})
	if err == nil {
		set.Close()
		t.Fatal("want an error")
	}
	want := "providers.a.auth: auth type test-result built no token source (kind.Result.Source)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

// userActorAuth declares ActsForEachUser as Says and builds a per-user
// Result or not as Builds says.
type userActorAuth struct {
	Says   bool `yaml:"says"`
	Builds bool `yaml:"builds"`
}

func (a *userActorAuth) ActsForEachUser() bool { return a.Says }
func (a *userActorAuth) Validate(*kind.Build)  {}
func (a *userActorAuth) Source(*kind.Build) (kind.Result, error) {
	src := credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret("tok")})
	if a.Builds {
		return kind.Result{Source: src, PerUser: func(credential.TokenSource) credential.TokenSource { return src }}, nil
	}
	return kind.Result{Source: src}, nil
}

func init() { kind.Register("test-useractor", func() kind.AuthConfig { return new(userActorAuth) }) }

// TestUserActorMustMatchTheResult: what an auth config declares from the
// config alone (kind.UserActor, which copilot-env goes by) is held to what
// its Source builds.
func TestUserActorMustMatchTheResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		says, builds bool
		wantErr      string
	}{
		{"both per-user", true, true, ""},
		{"neither", false, false, ""},
		{"says per-user, builds none", true, false, "providers.a.auth: auth type test-useractor says ActsForEachUser() = true, but its Source built a Result without PerUser (kind.UserActor): make them agree"},
		{"says not, builds per-user", false, true, "providers.a.auth: auth type test-useractor says ActsForEachUser() = false, but its Source built a Result with PerUser (kind.UserActor): make them agree"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, fmt.Sprintf(`providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-useractor, says: %t, builds: %t}}
`, tc.says, tc.builds))
			set, err := Load(path, Options{PerUser: true})
			got := ""
			if err != nil {
				got = err.Error()[strings.Index(err.Error(), "providers."):]
			} else {
				set.Close()
			}
			if diff := cmp.Diff(tc.wantErr, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadCheckedReportsEverythingAtOnce: LoadChecked lists a source's
// check problems (a plugin's `config:` block) beside the file's other
// problems, in file order, instead of only once the rest is clean; a
// provider with a problem of its own, or any when a `plugins:` entry has
// one, is not built for it.
func TestLoadCheckedReportsEverythingAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string // FILE stands for the config's path
	}{
		{"clean", `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-result, build: plain}}
`, nil},
		{"a check problem alone", `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-result, build: checked}}
`, []string{"FILE:2:60: providers.a.auth: the issuer refused the config"}},
		{"a key problem before and after the check problem", `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: static, api_key: k, colour: red}}
  b: {type: openai, base_url: https://b.example, model: m, auth: {type: test-result, build: checked}}
  c: {type: openai, base_url: https://c.example, modle: m, auth: {type: static, api_key: k}}
`, []string{
			`FILE:2:93: providers.a.auth.colour: unknown key "colour" (known keys: api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret)`,
			"FILE:3:60: providers.b.auth: the issuer refused the config",
			`FILE:4:50: providers.c.modle: unknown key "modle"; did you mean "model"? (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`,
		}},
		{"a problem in the checked provider's own block: not built", `providers:
  a: {type: openai, base_url: https://a.example, model: m, colour: red, auth: {type: test-result, build: checked}}
`, []string{`FILE:2:60: providers.a.colour: unknown key "colour" (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`}},
		{"a problem in plugins: nothing is built", `plugins:
  p: {}
providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-result, build: checked}}
`, []string{`FILE:2:3: plugins.p: missing key "command": the plugin binary`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, tc.config)
			set, err := LoadChecked(context.Background(), path, Options{})
			var got []string
			if err != nil {
				got = strings.Split(strings.ReplaceAll(err.Error(), path, "FILE"), "\n")
			} else {
				set.Close()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
