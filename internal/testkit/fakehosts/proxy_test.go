package fakehosts_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
)

// TestProxy drives the proxy as a program that dials host names itself
// would (HTTPS_PROXY and a CA file): a served name is tunnelled to its fake,
// whose certificate verifies against the written CA, and everything else is
// refused and recorded.
func TestProxy(t *testing.T) {
	t.Parallel()
	n := fakehosts.New()
	srv := n.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "served "+r.Host+" to "+r.TLS.ServerName)
	}), "models.openai.azure.us")
	defer srv.Close()
	px := n.StartProxy()
	defer px.Close()
	caFile, err := n.WriteCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	proxyURL, _ := url.Parse(px.URL)
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	defer client.CloseIdleConnections()

	tests := []struct {
		name, url string
		wantBody  string // empty: the request must fail
	}{
		{name: "served host through a tunnel", url: "https://models.openai.azure.us/openai/v1/models", wantBody: "served models.openai.azure.us to models.openai.azure.us"},
		{name: "served host, upper case", url: "https://MODELS.openai.azure.us/", wantBody: "served MODELS.openai.azure.us to MODELS.openai.azure.us"},
		{name: "unserved host is refused", url: "https://api.github.com/"},
		{name: "served host on another port is refused", url: "https://models.openai.azure.us:8443/"},
		{name: "plain http is refused", url: "http://models.openai.azure.us/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(tc.url)
			if tc.wantBody == "" {
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode < 400 {
						t.Fatalf("GET %s through the proxy: %s, want a refusal", tc.url, resp.Status)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if diff := cmp.Diff(tc.wantBody, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"models.openai.azure.us:443"}, dedupe(px.Tunnels())); diff != "" {
		t.Errorf("tunnels (-want +got):\n%s", diff)
	}
	wantRefused := []string{"CONNECT api.github.com:443", "CONNECT models.openai.azure.us:8443", "GET http://models.openai.azure.us/"}
	if diff := cmp.Diff(wantRefused, px.Refused()); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
}

// TestProxyCloseCutsTunnels: Close returns while a client still holds a
// tunnel open, and the client sees its connection end.
func TestProxyCloseCutsTunnels(t *testing.T) {
	t.Parallel()
	n := fakehosts.New()
	srv := n.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), "models.openai.azure.cn")
	defer srv.Close()
	px := n.StartProxy()
	proxyURL, _ := url.Parse(px.URL)
	pool := x509.NewCertPool()
	caFile, err := n.WriteCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://models.openai.azure.cn/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The kept-alive connection is a tunnel the proxy still holds.
	if err := px.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatal(err)
	}
	if _, err := (&http.Client{Transport: tr}).Get("https://models.openai.azure.cn/"); err == nil {
		t.Error("a request through a closed proxy succeeded")
	}
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
