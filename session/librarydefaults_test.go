package session_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// refresh_on_rejection in YAML takes effect only through the runtime's
// request handler. A library program that starts the runtime without it
// used to get a config that silently did nothing; now the factory refuses
// it with the fix. The factory knows only the handler it made itself: one
// made by another factory over the same providers (once recorded
// process-wide, and never forgotten) does not count.
func TestRefreshOnRejectionNeedsTheHandler(t *testing.T) {
	t.Parallel()
	const provider = "providers:\n  p:\n    type: openai\n    base_url: https://api.example.com/v1\n    model: m\n    auth: {type: static, api_key: k}\n"
	const refusal = "session: the config sets refresh_on_rejection, but the runtime's model requests do not pass through byokcred: " +
		"start the runtime with copilotcli.Options{RequestHandler: factory.RequestHandler()}, from this factory, " +
		"before asking for a session config (or remove refresh_on_rejection)"
	tests := []struct {
		name    string
		src     string
		handler string // whose handler was made: "", "own", "other" (another factory over the same set)
		want    string // the error, "" for none
	}{
		{"set, no handler: refused", "refresh_on_rejection: true\n" + provider, "", refusal},
		{"set, with the handler", "refresh_on_rejection: true\n" + provider, "own", ""},
		{"set, another factory's handler: refused", "refresh_on_rejection: true\n" + provider, "other", refusal},
		{"not set, no handler", provider, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := registry.Load(configtest.Write(t, tc.src), registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			f := session.NewFactory(set, session.Options{})
			switch tc.handler {
			case "own":
				f.RequestHandler()
			case "other":
				session.NewFactory(set, session.Options{}).RequestHandler()
			}
			for _, call := range []func() error{
				func() error { _, err := f.SessionConfig(context.Background(), "p", nil); return err },
				func() error { _, err := f.MultiSessionConfig(context.Background(), "p/m", nil); return err },
			} {
				got := ""
				if err := call(); err != nil {
					got = err.Error()
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			}
		})
	}
}
