package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/proxy"
)

func TestClientTokenIsRequiredAndNeverForwarded(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{ClientToken: credential.NewSecret(canaryClient)})
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"none", nil, 401},
		{"wrong bearer", map[string]string{"Authorization": "Bearer " + canaryOwn}, 401},
		{"prefix of the token", map[string]string{"Authorization": "Bearer " + canaryClient[:len(canaryClient)-1]}, 401},
		{"token with a suffix", map[string]string{proxy.ClientTokenHeader: canaryClient + "x"}, 401},
		{"not a bearer scheme", map[string]string{"Authorization": "Basic " + canaryClient}, 401},
		{"X-Byokcred-Token", map[string]string{proxy.ClientTokenHeader: canaryClient}, 200},
		{"Authorization Bearer", map[string]string{"Authorization": "Bearer " + canaryClient}, 200},
		{"bearer in lower case", map[string]string{"Authorization": "bearer " + canaryClient}, 200},
		{"api-key (azure clients)", map[string]string{"api-key": canaryClient}, 200},
		{"x-api-key (anthropic clients)", map[string]string{"x-api-key": canaryClient}, 200},
		{"one right among wrong ones", map[string]string{"x-api-key": canaryOwn, proxy.ClientTokenHeader: canaryClient}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model.Reset()
			r := do(t, http.MethodPost, px.url+"/ant/v1/messages", `{}`, tc.header)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			reqs := model.Requests()
			if tc.want != 200 {
				if len(reqs) != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				return
			}
			for k, vs := range reqs[0].Header {
				for _, v := range vs {
					if strings.Contains(v, canaryClient) || strings.Contains(v, canaryOwn) {
						t.Errorf("upstream received a client credential in %s", k)
					}
				}
			}
			if got := reqs[0].Header.Get("X-Api-Key"); got != canaryKey {
				t.Errorf("upstream x-api-key is not the provider's key")
			}
		})
	}
}

func TestLoopbackOnlyUnlessAllowed(t *testing.T) {
	addrs := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7787", true},
		{"127.0.0.1:0", true},
		{"127.10.0.3:80", true},
		{"[::1]:80", true},
		{"localhost:7787", true},
		{"0.0.0.0:7787", false},
		{":7787", false},
		{"[::]:7787", false},
		{"192.168.1.10:7787", false},
		{"proxy.example.com:7787", false},
		{"127.0.0.1", false}, // no port: not an address
	}
	for _, a := range addrs {
		if got := proxy.LoopbackAddr(a.addr); got != a.want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", a.addr, got, a.want)
		}
	}

	live, _ := loadLive(t, staticConfig("http://127.0.0.1:9"))
	if _, err := proxy.New(proxy.Options{Providers: live, AllowRemote: true}); err == nil || !strings.Contains(err.Error(), "client token") {
		t.Errorf("AllowRemote without a client token: err = %v, want a refusal naming the client token", err)
	}
	srv, err := proxy.New(proxy.Options{Providers: live})
	if err != nil {
		t.Fatal(err)
	}
	// Refused before anything is bound, so this test never listens on a
	// public interface.
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		if ln, err := srv.Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) without AllowRemote succeeded", addr)
		} else if !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("Listen(%q): %v", addr, err)
		}
	}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback Listen: %v", err)
	}
	ln.Close()
}

// TestBrowserRequestsRefused: a web page can make the user's browser send
// requests to the loopback proxy, and DNS rebinding lets it read answers.
func TestBrowserRequestsRefused(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	local := startProxy(t, live, proxy.Options{})
	ui := startProxy(t, live, proxy.Options{AllowOrigins: []string{"http://localhost:5173"}})
	remote := startProxy(t, live, proxy.Options{AllowRemote: true, ClientToken: credential.NewSecret(canaryClient)})
	tests := []struct {
		name   string
		px     *fixture
		host   string
		header map[string]string
		want   int
	}{
		{"loopback host", local, "", nil, 200},
		{"localhost host", local, "localhost:1234", nil, 200},
		{"rebound host", local, "attacker.example:7787", nil, 403},
		{"cross-site origin", local, "", map[string]string{"Origin": "https://attacker.example"}, 403},
		{"opaque origin", local, "", map[string]string{"Origin": "null"}, 403},
		// A page served on another loopback port is just another web page.
		{"loopback origin", local, "", map[string]string{"Origin": "http://localhost:5173"}, 403},
		{"loopback origin, allowed", ui, "", map[string]string{"Origin": "http://localhost:5173", "Sec-Fetch-Site": "same-site"}, 200},
		{"allowed origin in other case", ui, "", map[string]string{"Origin": "HTTP://LOCALHOST:5173"}, 200},
		{"another origin than the allowed one", ui, "", map[string]string{"Origin": "http://localhost:5174"}, 403},
		// An <img> or a no-cors fetch sends no Origin, but fetch metadata.
		{"cross-site fetch without an origin", local, "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch without an origin", local, "", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"same-origin fetch (the proxy serves no pages)", local, "", map[string]string{"Sec-Fetch-Site": "same-origin"}, 403},
		{"allowed origin's page, no-cors", ui, "", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"the user's own navigation", local, "", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"remote mode: any host with the token", remote, "proxy.example:7787", map[string]string{proxy.ClientTokenHeader: canaryClient}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model.Reset()
			req, _ := http.NewRequest(http.MethodPost, tc.px.url+"/oai/chat/completions", strings.NewReader(`{}`))
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if reached := len(model.Requests()) > 0; reached != (tc.want == 200) {
				t.Errorf("reached the upstream: %v", reached)
			}
		})
	}
}

func TestAllowOriginsMustBeOrigins(t *testing.T) {
	live, _ := loadLive(t, staticConfig("http://127.0.0.1:9"))
	for _, o := range []string{"localhost:5173", "http://localhost:5173/app", "ftp://localhost", "http://", "http://localhost?x=1"} {
		if _, err := proxy.New(proxy.Options{Providers: live, AllowOrigins: []string{o}}); err == nil || !strings.Contains(err.Error(), "scheme://host[:port]") {
			t.Errorf("AllowOrigins %q: err = %v, want a refusal showing the form", o, err)
		}
	}
	if _, err := proxy.New(proxy.Options{Providers: live, AllowOrigins: []string{"http://localhost:5173", "https://ui.example/"}}); err != nil {
		t.Errorf("valid origins refused: %v", err)
	}
}

// TestNoSecretsInLogsOrResponses drives every path — success, retry after a
// revoked token, refusals, upstream failure — with debug logging, then looks
// for every secret in the log and in everything sent back to clients.
func TestNoSecretsInLogsOrResponses(t *testing.T) {
	f := newEntra(t, time.Hour)
	// Bodies are never logged: the prompt and the reply carry canaries too.
	const prompt, reply = "CANARY-prompt-body-4455", "CANARY-reply-body-6677"
	open := startModel(t, fakemodel.Options{Reply: reply})
	down := "http://127.0.0.1:9" // discard port: nothing answers
	live, _ := loadLive(t, staticConfig(open.URL)+f.config("foundry")+fmt.Sprintf(`  down:
    type: openai
    base_url: %s
    model: m
    headers: {X-Gateway-Key: "${GATEWAY}"}
    auth: {type: static, api_key_env: KEY}
`, down))
	px := startProxy(t, live, proxy.Options{ClientToken: credential.NewSecret(canaryClient), Default: "oai"})
	ok := map[string]string{"Authorization": "Bearer " + canaryClient, "x-api-key": canaryOwn, "api-key": canaryOwn, "Cookie": "session=" + canaryOwn}
	var sent []string
	send := func(method, path string, header map[string]string) {
		r := do(t, method, px.url+path, `{"model":"m","messages":[{"role":"user","content":"`+prompt+`"}]}`, header)
		var b strings.Builder
		fmt.Fprintf(&b, "%d %s\n", r.Status, r.Body)
		for k, vs := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		sent = append(sent, b.String())
	}
	send("POST", "/oai/chat/completions?api-key="+canaryOwn+"&sig="+canaryOwn+"&api-version=1", ok)
	send("POST", "/chat/completions", ok)
	send("POST", "/az/openai/v1/responses", ok)
	send("POST", "/antb/v1/messages", ok)
	send("POST", "/foundry/openai/v1/chat/completions", ok)
	f.idp.Revoke(f.idp.Issued()[0].Token)
	send("POST", "/foundry/openai/v1/chat/completions", ok) // 401, then a retry
	send("POST", "/down/chat/completions", ok)              // 502
	send("POST", "/nope/x", map[string]string{"Authorization": "Bearer " + canaryOwn})
	send("GET", "/oai/models", map[string]string{proxy.ClientTokenHeader: canaryOwn})

	logs := px.logs.String()
	secrets := map[string]string{"provider key": canaryKey, "provider bearer": canaryBearer, "configured header": canaryHeader, "client token": canaryClient, "client's own key": canaryOwn}
	for i, is := range f.idp.Issued() {
		secrets[fmt.Sprintf("entra token %d", i+1)] = is.Token
	}
	if n := len(open.Requests()); n != 4 {
		t.Errorf("%d requests reached the static providers' endpoint, want 4", n)
	}
	if len(f.idp.Issued()) != 2 {
		t.Errorf("%d entra tokens minted, want 2 (the revoked one and its replacement)", len(f.idp.Issued()))
	}
	if !strings.Contains(strings.Join(sent, ""), reply) {
		t.Error("no response carried the model's reply: the body check proves nothing")
	}
	for what, s := range map[string]string{"request body": prompt, "response body": reply} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
		for i, out := range sent {
			if strings.Contains(out, s) {
				t.Errorf("response %d contains the %s", i, what)
			}
		}
	}
	// The log is still useful: headers are there, their secrets redacted.
	for _, want := range []string{
		"headers.authorization=[REDACTED]", "headers.x-api-key=[REDACTED]", "headers.api-key=[REDACTED]",
		"headers.x-gateway-key=[REDACTED]", "headers.cookie=[REDACTED]", "headers.user-agent=Go-http-client/1.1",
		// Configured headers come from ${VAR}s that may be secrets under
		// any name: all of them are redacted.
		"headers.x-tenant=[REDACTED]",
		"api-version=1", "sig=[REDACTED]", "retrying once with a fresh one", "upstream request failed", "status=200",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

// TestURLQuerySecretsNeverLogged: a base_url may carry a key in its query
// (?code=${X}, Azure Functions style), and clients may send one in theirs,
// separated by ";" as well as "&". The debug log shows neither.
func TestURLQuerySecretsNeverLogged(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, `providers:
  fn:
    type: openai
    base_url: `+model.URL+`/v1?code=${URLCODE}&api-version=1
    model: m
    auth: {type: static, api_key_env: KEY}
`)
	px := startProxy(t, live, proxy.Options{})
	r := do(t, http.MethodPost, px.url+"/fn/chat/completions?stream=false;token="+canaryOwn+"&tenant="+canaryOwn, `{}`, nil)
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if reqs := model.Requests(); len(reqs) != 1 || !strings.Contains(reqs[0].RawQuery, "code="+canaryURL) {
		t.Fatalf("the base URL's query did not reach the upstream: the log check proves nothing (%+v)", reqs)
	}
	logs := px.logs.String()
	for what, s := range map[string]string{"base_url's code": canaryURL, "client's query secret": canaryOwn} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}
	for _, want := range []string{"code=[REDACTED]&api-version=1", "token=[REDACTED]", "tenant=[REDACTED]", "forwarding"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

// TestURLPathSecretsNeverLogged: a base_url may carry a key in a path
// segment or a ;param that came from ${VAR} (https://fn.example/${KEY}/v1);
// the forwarding log shows it as ${NAME}, as providers does, while the
// upstream receives the value (issue 23, finding 8's variant in the
// proxy's request log).
func TestURLPathSecretsNeverLogged(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, `providers:
  fn:
    type: openai
    base_url: `+model.URL+`/keys/${URLCODE}/v1;sig=${URLCODE}
    model: m
    auth: {type: static, api_key_env: KEY}
`)
	px := startProxy(t, live, proxy.Options{})
	r := do(t, http.MethodPost, px.url+"/fn/chat/completions", `{}`, nil)
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if reqs := model.Requests(); len(reqs) != 1 || !strings.Contains(reqs[0].Path, canaryURL) {
		t.Fatalf("the base URL's path did not reach the upstream: the log check proves nothing (%+v)", reqs)
	}
	logs := px.logs.String()
	if strings.Contains(logs, canaryURL) {
		t.Errorf("the log contains the base URL's path secret:\n%s", logs)
	}
	if want := "/keys/${URLCODE}/v1;sig=${URLCODE}/chat/completions"; !strings.Contains(logs, want) {
		t.Errorf("the log lacks the upstream URL shown as %q:\n%s", want, logs)
	}
}
