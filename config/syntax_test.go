package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A YAML syntax error points at its own line, not at the line where the
// enclosing block starts (yaml.v3's "line N").
func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"indentation slip on line 5", "providers:\n  p:\n    type: openai\n    base_url: https://x\n   model: m\n    auth: {type: static, api_key: k}\n",
			"s.yaml:5:4: did not find expected key (in the block that starts on line 1)"},
		{"unclosed list", "providers:\n  p:\n    type: openai\n    base_url: https://x\n    model: [m\n",
			"s.yaml:5:5: did not find expected ',' or ']' (in the block that starts on line 4)"},
		{"tab indentation", "providers:\n  p:\n    type: openai\n\tmodel: m\n",
			"s.yaml:4:1: found a tab character that violates indentation (in the block that starts on line 3)"},
		{"error on the block's own line", "providers:\n  a: [\n", "s.yaml:2:3: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.src), lookupFrom(nil))
			var el ErrorList
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// A problem with a position, as every other (validate -o json
			// gives its line and column).
			if !asErrorList(err, &el) || len(el) != 1 || el[0].Pos.Line == 0 {
				t.Errorf("want one config.Error with a position, got %#v", err)
			}
		})
	}
}

func asErrorList(err error, el *ErrorList) bool {
	l, ok := err.(ErrorList)
	*el = l
	return ok
}

// A misspelled value of a closed set gets "did you mean", as a misspelled
// key does: the config's own enums and every auth type's, which all word
// the problem `unknown KEY "VALUE" (one of: …)`.
func TestEnumDidYouMean(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, msg, want string }{
		{"entra credential", `unknown credential "azure_cl" (one of: azure_cli, default, managed_identity)`,
			`unknown credential "azure_cl"; did you mean "azure_cli"? (one of: azure_cli, default, managed_identity)`},
		{"provider type", `unknown provider type "opnai" (one of: anthropic, azure, openai)`,
			`unknown provider type "opnai"; did you mean "openai"? (one of: anthropic, azure, openai)`},
		{"nothing close", `unknown wire_api "chat" (one of: completions, responses)`, `unknown wire_api "chat" (one of: completions, responses)`},
		{"another shape", `unknown provider "x" (configured: a, b)`, `unknown provider "x" (configured: a, b)`},
		{"quote inside the value", `unknown refresh "per_sess\"ion" (one of: per_request, per_session)`, `unknown refresh "per_sess\"ion"; did you mean "per_session"? (one of: per_request, per_session)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, suggestEnum(tc.msg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Through a whole file: the problem is reported with the suggestion.
	_, err := Parse("e.yaml", []byte("providers:\n  p: {type: azur, base_url: https://x, model: m, auth: {type: static}}\n"), lookupFrom(nil))
	want := `e.yaml:2:13: providers.p.type: unknown provider type "azur"; did you mean "azure"? (one of: anthropic, azure, openai)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
