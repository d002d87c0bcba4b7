package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// request is what the token endpoint saw.
type request struct {
	GrantType            string
	BasicUser, BasicPass string
	FormID, FormSecret   string
	Scope, Audience      string
}

// idp is a loopback token endpoint that records requests and answers with
// the configured status and body.
type idp struct {
	mu     sync.Mutex
	reqs   []request
	status int
	body   string
	block  chan struct{} // if set, the handler waits on it
}

func newIDP(t *testing.T, status int, body string) (*idp, *httptest.Server) {
	t.Helper()
	i := &idp{status: status, body: body}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i.block != nil {
			select {
			case <-i.block:
			case <-r.Context().Done():
				return
			}
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		u, p, _ := r.BasicAuth()
		i.mu.Lock()
		i.reqs = append(i.reqs, request{
			GrantType: r.PostForm.Get("grant_type"),
			BasicUser: u, BasicPass: p,
			FormID: r.PostForm.Get("client_id"), FormSecret: r.PostForm.Get("client_secret"),
			Scope: r.PostForm.Get("scope"), Audience: r.PostForm.Get("audience"),
		})
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(i.status)
		fmt.Fprint(w, i.body)
	}))
	t.Cleanup(srv.Close)
	return i, srv
}

func (i *idp) requests() []request {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]request(nil), i.reqs...)
}

func configure(t *testing.T, config map[string]any) (credential.TokenSource, error) {
	t.Helper()
	return Plugin{}.Configure(context.Background(), "p", config)
}

func TestClientCredentials(t *testing.T) {
	const ok = `{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_in":1800}`
	tests := []struct {
		name        string
		config      map[string]any
		body        string
		wantReq     request
		wantExpiry  time.Duration // from now; 0 = none
		wantRefresh time.Duration
	}{
		{
			name:        "basic auth with scopes and audience",
			config:      map[string]any{"client_id": "cid", "client_secret": "csecret", "scopes": []any{"a", "b"}, "audience": "api://x", "auth_style": "header"},
			body:        ok,
			wantReq:     request{GrantType: "client_credentials", BasicUser: "cid", BasicPass: "csecret", Scope: "a b", Audience: "api://x"},
			wantExpiry:  time.Hour,
			wantRefresh: 30 * time.Minute,
		},
		{
			name:       "credentials in the form",
			config:     map[string]any{"client_id": "cid", "client_secret": "csecret", "auth_style": "params"},
			body:       `{"access_token":"at-1","token_type":"Bearer","expires_in":60}`,
			wantReq:    request{GrantType: "client_credentials", FormID: "cid", FormSecret: "csecret"},
			wantExpiry: time.Minute,
		},
		{
			name:    "no expires_in, no expiry",
			config:  map[string]any{"client_id": "cid", "client_secret": "csecret"},
			body:    `{"access_token":"at-1","token_type":"Bearer"}`,
			wantReq: request{GrantType: "client_credentials", BasicUser: "cid", BasicPass: "csecret"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, srv := newIDP(t, 200, tc.body)
			tc.config["token_url"] = srv.URL + "/token"
			src, err := configure(t, tc.config)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]request{tc.wantReq}, i.requests()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if tok.Value.Reveal() != "at-1" || tok.Kind != credential.KindBearer {
				t.Errorf("token %q kind %v", tok.Value.Reveal(), tok.Kind)
			}
			checkTime(t, "expiry", tok.Expiry, before, tc.wantExpiry)
			checkTime(t, "refresh", tok.RefreshAt, before, tc.wantRefresh)
		})
	}
}

// checkTime: got is zero when want is 0, else within a few seconds of
// from+want.
func checkTime(t *testing.T, what string, got, from time.Time, want time.Duration) {
	t.Helper()
	if want == 0 {
		if !got.IsZero() {
			t.Errorf("%s %v, want none", what, got)
		}
		return
	}
	if d := got.Sub(from.Add(want)); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("%s %v, want about %v", what, got, from.Add(want))
	}
}

// TestSecretFile: the secret file is permission-checked and re-read, so a
// rotated secret is used on the next fetch.
func TestSecretFile(t *testing.T) {
	i, srv := newIDP(t, 200, `{"access_token":"at","token_type":"Bearer","expires_in":60}`)
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := configure(t, map[string]any{"token_url": srv.URL, "client_id": "cid", "client_secret_file": path, "auth_style": "params"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("secret-2-longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, r := range i.requests() {
		secrets = append(secrets, r.FormSecret)
	}
	if diff := cmp.Diff([]string{"secret-1", "secret-2-longer"}, secrets); diff != "" {
		t.Errorf("secrets sent (-want +got):\n%s", diff)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is readable by group or others") {
		t.Errorf("error %v, want a permission error", err)
	}
}

// TestEndpointErrors: failures name the endpoint, status and RFC 6749
// error, never the client secret.
func TestEndpointErrors(t *testing.T) {
	const secret = "csecret-CANARY-91f2"
	tests := []struct {
		name   string
		status int
		body   string
		want   string // after "oauth2: token request to <url> failed: "
	}{
		{"rfc 6749 error", 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, `401 Unauthorized: error "invalid_client" (client authentication failed)`},
		{"plain body is redacted", 500, "upstream said client_secret=" + secret, `500 Internal Server Error: body "upstream said client_secret=[REDACTED]"`},
		{"no access token", 200, `{"token_type":"Bearer"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newIDP(t, tc.status, tc.body)
			src, err := configure(t, map[string]any{"token_url": srv.URL, "client_id": "cid", "client_secret": secret})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret: %v", err)
			}
			if tc.want == "" {
				if !strings.HasPrefix(err.Error(), "oauth2: token request to "+srv.URL) {
					t.Errorf("error %v", err)
				}
				return
			}
			if diff := cmp.Diff("oauth2: token request to "+srv.URL+" failed: "+tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextHonoured(t *testing.T) {
	i, srv := newIDP(t, 200, `{}`)
	i.block = make(chan struct{})
	defer close(i.block)
	src, err := configure(t, map[string]any{"token_url": srv.URL, "client_id": "cid", "client_secret": "s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = src.Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("error %v after %s, want a prompt context.DeadlineExceeded", err, time.Since(start))
	}
}

func TestConfigErrors(t *testing.T) {
	base := func(kv ...any) map[string]any {
		m := map[string]any{"token_url": "https://idp.example/token", "client_id": "cid", "client_secret": "s"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		config map[string]any
		want   string // "" = accepted
	}{
		{"https", base(), ""},
		{"http to 127.0.0.1", base("token_url", "http://127.0.0.1:8080/token"), ""},
		{"http to localhost", base("token_url", "http://localhost/token"), ""},
		{"http to ::1", base("token_url", "http://[::1]:9/token"), ""},
		{"http to a network host", base("token_url", "http://idp.example/token"), "oauth2: token_url: plain http to idp.example would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)"},
		{"other scheme", base("token_url", "ftp://idp.example/token"), `oauth2: token_url: unsupported URL scheme "ftp"; use https`},
		{"relative url", base("token_url", "/token"), `oauth2: token_url: URL "/token" has no host; write it as https://host/path`},
		{"credentials in the url", base("token_url", "https://u:pw@idp.example/token"), "oauth2: token_url: URL must not carry user:password; configure the credential under auth: instead"},
		{"both secrets", base("client_secret_file", "/x"), "oauth2: set exactly one of client_secret and client_secret_file"},
		{"no secret", base("client_secret", nil), "oauth2: set exactly one of client_secret and client_secret_file"},
		{"no client id", base("client_id", nil), `oauth2: config key "client_id" is required`},
		{"unknown key", base("scope", "a"), `oauth2: unknown config key "scope" (known keys: audience, auth_style, client_id, client_secret, client_secret_file, grant, requested_token_type, resource, scopes, subject_token_type, token_url)`},
		{"bad auth style", base("auth_style", "basic"), `oauth2: config key "auth_style" must be one of auto, header, params, not "basic"`},
		{"token exchange", base("grant", "token_exchange", "resource", "https://gw.example"), ""},
		{"unknown grant", base("grant", "password"), `oauth2: config key "grant" must be one of client_credentials, token_exchange, not "password"`},
		{"exchange key without the grant", base("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), `oauth2: config key "subject_token_type" applies to grant token_exchange`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configure(t, tc.config)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
