package wire

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/shared"
)

// fake is an in-process plugin that records what reached it.
type fake struct {
	mu        sync.Mutex
	providers []string
	configs   []map[string]any
	deadline  time.Duration
}

func (f *fake) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "fake", Version: "v0.0.1"}, nil
}

func (f *fake) Configure(_ context.Context, providerName string, config map[string]any) (credential.TokenSource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.providers = append(f.providers, providerName)
	f.configs = append(f.configs, config)
	mode, _ := config["mode"].(string)
	if mode == "bad-config" {
		return nil, errors.New("fake: unknown config key \"x\"")
	}
	if mode == "panic-config" {
		panic("boom")
	}
	if mode == "exchange" {
		return exchangeSource{}, nil
	}
	return fakeSource{f: f, mode: mode}, nil
}

type fakeSource struct {
	f    *fake
	mode string
}

var fakeExpiry = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func (s fakeSource) Token(ctx context.Context) (*credential.Token, error) {
	switch s.mode {
	case "error":
		return nil, errors.New("idp unreachable")
	case "panic":
		panic("boom")
	case "wait":
		<-ctx.Done()
		return nil, ctx.Err()
	case "deadline":
		dl, _ := ctx.Deadline()
		s.f.mu.Lock()
		s.f.deadline = time.Until(dl)
		s.f.mu.Unlock()
	}
	return &credential.Token{Value: credential.NewSecret("tok-" + s.mode), Kind: credential.KindBearer, Expiry: fakeExpiry}, nil
}

// connect serves f over an in-memory gRPC connection through go-plugin's
// own plumbing and dispenses the host-side client.
func connect(t *testing.T, f *fake) *GRPCClient {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, PluginSet(f))
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(shared.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*GRPCClient)
}

func TestGRPCRoundTrip(t *testing.T) {
	f := &fake{}
	c := connect(t, f)
	ctx := context.Background()

	info, err := c.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(shared.Info{Name: "fake", Version: "v0.0.1"}, info); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}

	src, err := c.Configure(ctx, "gateway", map[string]any{"mode": "ok", "scopes": []string{"a"}, "n": 2})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]any{tok.Value.Reveal(), tok.Kind, tok.Expiry}; got != [3]any{"tok-ok", credential.KindBearer, fakeExpiry} {
		t.Errorf("token %v", got)
	}
	want := []map[string]any{{"mode": "ok", "scopes": []any{"a"}, "n": 2.0}}
	if diff := cmp.Diff(want, f.configs); diff != "" {
		t.Errorf("config seen by the plugin (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gateway"}, f.providers); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}
}

// TestGRPCErrors: the codes the host acts on. A plugin error must not look
// like a dead process (UNAVAILABLE); a panic must not kill the process.
func TestGRPCErrors(t *testing.T) {
	c := connect(t, &fake{})
	tests := []struct {
		name     string
		mode     string
		timeout  time.Duration
		wantCode codes.Code
		wantMsg  string
	}{
		{"plugin error", "error", 0, codes.Unknown, "idp unreachable"},
		{"panic in token", "panic", 0, codes.Internal, "plugin panicked in get token"},
		{"bad config", "bad-config", 0, codes.InvalidArgument, `fake: unknown config key "x"`},
		{"panic in configure", "panic-config", 0, codes.Internal, "plugin panicked in configure"},
		{"host deadline", "wait", 50 * time.Millisecond, codes.DeadlineExceeded, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			var err error
			src, err := c.Configure(ctx, "p", map[string]any{"mode": tc.mode})
			if err == nil {
				_, err = src.Token(ctx)
			}
			st := status.Convert(err)
			if diff := cmp.Diff(tc.wantCode, st.Code()); diff != "" {
				t.Errorf("code (-want +got):\n%s (error %v)", diff, err)
			}
			if tc.wantMsg != "" && st.Message() != tc.wantMsg {
				t.Errorf("message %q, want %q", st.Message(), tc.wantMsg)
			}
		})
	}
	// Still serving after the panics.
	if _, err := c.Describe(context.Background()); err != nil {
		t.Errorf("after panics: %v", err)
	}
}

func TestGRPCUnknownHandle(t *testing.T) {
	c := connect(t, &fake{})
	src := &RemoteSource{client: c.client, handle: "nope"}
	_, err := src.Token(context.Background())
	if code := status.Code(err); code != codes.NotFound {
		t.Errorf("code %v, want NotFound (%v)", code, err)
	}
}

// TestGRPCDeadlinePropagates: the host's deadline is the plugin's.
func TestGRPCDeadlinePropagates(t *testing.T) {
	f := &fake{}
	c := connect(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	src, err := c.Configure(ctx, "p", map[string]any{"mode": "deadline"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deadline <= 0 || f.deadline > 2*time.Second {
		t.Errorf("plugin saw %s left, want (0, 2s]", f.deadline)
	}
}

// exchangeSource mints a token naming the subject it was handed.
type exchangeSource struct{}

func (exchangeSource) Token(context.Context) (*credential.Token, error) {
	return nil, errors.New("needs a subject")
}

func (exchangeSource) TokenFor(_ context.Context, subject credential.Secret) (*credential.Token, error) {
	return &credential.Token{Value: credential.NewSecret("for-" + subject.Reveal()), Kind: credential.KindBearer, Expiry: fakeExpiry}, nil
}

// TestGRPCSubjectToken: a per-user config is announced as such and gets the
// subject; the client never sends a subject to a config that was not
// announced; the server refuses a subject for a config that takes none, and
// a per-user config asked without one.
func TestGRPCSubjectToken(t *testing.T) {
	c := connect(t, &fake{})
	ctx := context.Background()
	ex, err := c.ConfigureRemote(ctx, "gw", map[string]any{"mode": "exchange"})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.ConfigureRemote(ctx, "static", map[string]any{"mode": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if !ex.PerUser || plain.PerUser {
		t.Fatalf("per_user: exchange %v, plain %v; want true, false", ex.PerUser, plain.PerUser)
	}
	resp, err := ex.FetchFor(ctx, credential.NewSecret("alice-token"))
	if err != nil || resp.GetValue() != "for-alice-token" {
		t.Errorf("FetchFor: %q, %v", resp.GetValue(), err)
	}
	if _, err := plain.FetchFor(ctx, credential.NewSecret("alice-token")); err == nil || !strings.Contains(err.Error(), "the user's token was not sent") {
		t.Errorf("FetchFor on a config not announced per-user: %v", err)
	}
	// What an older or broken host could send.
	plain.PerUser = true
	_, err = plain.FetchFor(ctx, credential.NewSecret("alice-token"))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not act on behalf of a user") {
		t.Errorf("subject to a plain config: %v", err)
	}
	_, err = ex.Fetch(ctx)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "the host sent none") {
		t.Errorf("per-user config without a subject: %v", err)
	}
}

func TestPluginSet(t *testing.T) {
	set := PluginSet(nil)
	if _, ok := set[shared.PluginName].(*GRPCPlugin); !ok || len(set) != 1 {
		t.Errorf("plugin set %v", set)
	}
}
