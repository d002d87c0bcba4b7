package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/proxy"
)

// seen is what a test checks of each upstream request: its status, which
// token it carried (by order of minting: "t1", "t2", …) and the model field
// of its body (proof that a retried body arrived whole).
type seen struct {
	Status int
	Token  string
	Model  string
}

func (f *entraFixture) seen() []seen {
	names := map[string]string{}
	for i, is := range f.idp.Issued() {
		names[is.Token] = fmt.Sprintf("t%d", i+1)
	}
	var out []seen
	for _, r := range f.model.Requests() {
		name, ok := names[bearerOf(r)]
		if !ok {
			name = "unknown"
		}
		out = append(out, seen{r.Status, name, r.Model})
	}
	return out
}

const chatPath = "/foundry/openai/v1/chat/completions"

func TestUnauthorizedInvalidatesAndRetriesOnce(t *testing.T) {
	f := newEntra(t, time.Hour)
	live, _ := loadLive(t, "providers:\n"+f.config("foundry"))
	px := startProxy(t, live, proxy.Options{})

	if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"first"}`, nil); r.Status != 200 {
		t.Fatalf("first request: %d %s", r.Status, r.Body)
	}
	// The endpoint revokes the token well before its expiry.
	f.idp.Revoke(f.idp.Issued()[0].Token)
	if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"second"}`, nil); r.Status != 200 || !strings.Contains(r.Body, "entra ok") {
		t.Fatalf("request after revocation: %d %s", r.Status, r.Body)
	}
	if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"third"}`, nil); r.Status != 200 {
		t.Fatalf("third request: %d %s", r.Status, r.Body)
	}
	want := []seen{
		{200, "t1", "first"},
		{401, "t1", "second"},
		{200, "t2", "second"}, // the retry: fresh token, same body
		{200, "t2", "third"},  // the fresh token is cached
	}
	if diff := cmp.Diff(want, f.seen()); diff != "" {
		t.Errorf("upstream requests (-want +got):\n%s", diff)
	}
	if !strings.Contains(px.logs.String(), "retrying once with a fresh one") {
		t.Errorf("the retry was not logged:\n%s", px.logs)
	}
}

func TestUnauthorizedRetryHappensOnlyOnce(t *testing.T) {
	f := newEntra(t, time.Hour)
	refuse := startModel(t, fakemodel.Options{Check: func(*fakemodel.Request) int { return http.StatusUnauthorized }})
	live, _ := loadLive(t, fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    model: gpt-4.1
    auth: {type: entra, credential: managed_identity, scope: "%s"}
  static:
    type: openai
    base_url: %s
    model: m
    auth: {type: static, api_key_env: KEY}
`, refuse.URL, f.scope, refuse.URL))
	px := startProxy(t, live, proxy.Options{})
	tests := []struct {
		name         string
		path         string
		wantUpstream []int // upstream requests for each of two requests in a row
	}{
		// A fresh token is tried once, and its 401 goes to the client. The
		// upstream refused a fresh token, so the next request is not
		// retried: a new token per request would only load the identity
		// provider.
		{"entra", chatPath, []int{2, 1}},
		// A static key has no other value: sending it again is pointless.
		{"static key", "/static/chat/completions", []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for range tc.wantUpstream {
				refuse.Reset()
				r := do(t, http.MethodPost, px.url+tc.path, `{"model":"m"}`, nil)
				if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "fakemodel: refused with 401") {
					t.Errorf("client got %d %s, want the upstream's 401", r.Status, r.Body)
				}
				got = append(got, len(refuse.Requests()))
			}
			if diff := cmp.Diff(tc.wantUpstream, got); diff != "" {
				t.Errorf("upstream requests per client request (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(f.idp.Issued()); n != 2 {
		t.Errorf("identity endpoint minted %d tokens, want 2: the first and one fresh one", n)
	}
	if !strings.Contains(px.logs.String(), "refused a freshly issued credential too") {
		t.Errorf("no warning that a fresh token was refused:\n%s", px.logs)
	}
}

func TestLargeBodyIsNotRetried(t *testing.T) {
	const limit = 1024
	pad := strings.Repeat("x", 4*limit)
	tests := []struct {
		name    string
		chunked bool // no Content-Length: the limit is found while reading
	}{
		{"content-length", false},
		{"chunked", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newEntra(t, time.Hour)
			live, _ := loadLive(t, "providers:\n"+f.config("foundry"))
			px := startProxy(t, live, proxy.Options{MaxReplayBody: limit})
			if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"small"}`, nil); r.Status != 200 {
				t.Fatalf("warm-up: %d %s", r.Status, r.Body)
			}
			f.idp.Revoke(f.idp.Issued()[0].Token)

			var body io.Reader = strings.NewReader(`{"model":"big","pad":"` + pad + `"}`)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			resp, err := http.Post(px.url+chatPath, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("large body: status %d, want the upstream's 401 (no retry)", resp.StatusCode)
			}
			// The rejected token was still dropped: the next request gets a
			// fresh one without a 401 of its own.
			if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"after"}`, nil); r.Status != 200 {
				t.Errorf("request after the large one: %d %s", r.Status, r.Body)
			}
			want := []seen{{200, "t1", "small"}, {401, "t1", "big"}, {200, "t2", "after"}}
			if diff := cmp.Diff(want, f.seen()); diff != "" {
				t.Errorf("upstream requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBurstOfUnauthorizedCausesOneRefresh revokes the token under many
// concurrent requests: each is retried, and all share one new token.
func TestBurstOfUnauthorizedCausesOneRefresh(t *testing.T) {
	f := newEntra(t, time.Hour)
	live, _ := loadLive(t, "providers:\n"+f.config("foundry"))
	px := startProxy(t, live, proxy.Options{})
	if r := do(t, http.MethodPost, px.url+chatPath, `{}`, nil); r.Status != 200 {
		t.Fatalf("warm-up: %d", r.Status)
	}
	f.idp.Revoke(f.idp.Issued()[0].Token)
	var wg sync.WaitGroup
	statuses := make([]int, 12)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := http.Post(px.url+chatPath, "application/json", strings.NewReader(`{"model":"burst"}`))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	if n := len(f.idp.Issued()); n != 2 {
		t.Errorf("identity endpoint minted %d tokens, want 2 (one refresh for the whole burst)", n)
	}
}

// TestRetryReplaysBodiesOfManyChunks: a body kept in several chunks is
// sent again whole (the model field comes after the padding, so a body cut
// or reordered has none).
func TestRetryReplaysBodiesOfManyChunks(t *testing.T) {
	pad := strings.Repeat("x", 300<<10)
	tests := []struct {
		name    string
		chunked bool
	}{
		{"content-length", false},
		{"chunked", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newEntra(t, time.Hour)
			live, _ := loadLive(t, "providers:\n"+f.config("foundry"))
			px := startProxy(t, live, proxy.Options{})
			if r := do(t, http.MethodPost, px.url+chatPath, `{"model":"small"}`, nil); r.Status != 200 {
				t.Fatalf("warm-up: %d %s", r.Status, r.Body)
			}
			f.idp.Revoke(f.idp.Issued()[0].Token)
			var body io.Reader = strings.NewReader(`{"pad":"` + pad + `","model":"big"}`)
			if tc.chunked {
				body = io.MultiReader(body)
			}
			resp, err := http.Post(px.url+chatPath, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := []seen{{200, "t1", "small"}, {401, "t1", "big"}, {200, "t2", "big"}}
			if diff := cmp.Diff(want, f.seen()); diff != "" {
				t.Errorf("upstream requests (-want +got):\n%s", diff)
			}
		})
	}
}
