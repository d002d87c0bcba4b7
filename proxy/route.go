package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/registry"
)

// apiRoots are the first path segments that clients of each provider type
// send relative to the base URL. With a default provider they are never
// read as a provider prefix: the Copilot CLI with type azure sends
// /openai/v1/..., and a provider that happens to be named "openai" must not
// capture those requests.
var apiRoots = map[string]map[string]bool{
	config.TypeAzure:     {"openai": true},
	config.TypeAnthropic: {"v1": true},
	config.TypeOpenAI:    {"v1": true, "chat": true, "responses": true, "completions": true, "models": true, "embeddings": true},
}

// route picks the provider for r: the first path segment when it names one,
// else the default provider with the whole path. rest is the escaped path
// that follows, to be appended to the provider's base URL.
func (s *Server) route(set *registry.Set, r *http.Request) (p *registry.Provider, rest string, status int, err error) {
	// A dot segment could climb out of the base URL's path on the upstream
	// (https://gw/team-a/v1 + /../../team-b), to a place the credential was
	// not configured for. No model API uses one.
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, "", http.StatusBadRequest, fmt.Errorf("proxy: path %q has a dot segment", r.URL.EscapedPath())
		}
	}
	var def *registry.Provider
	if s.opts.Default != "" {
		// nil when a config reload removed it since the proxy started.
		def, _ = set.Provider(s.opts.Default)
	}
	esc := r.URL.EscapedPath()
	first, tail, hasTail := strings.Cut(strings.TrimPrefix(esc, "/"), "/")
	name, uerr := url.PathUnescape(first)
	if uerr == nil && name != "" && (def == nil || !apiRoots[def.Type][name]) {
		if p, err := set.Provider(name); err == nil {
			if hasTail {
				return p, "/" + tail, 0, nil
			}
			return p, "", 0, nil
		}
	}
	switch {
	case def != nil:
		return def, esc, 0, nil
	case s.opts.Default != "":
		return nil, "", http.StatusNotFound, fmt.Errorf("proxy: default provider %q is no longer configured; prefix the path with one of: %s", s.opts.Default, strings.Join(set.Names(), ", "))
	case first == "":
		return nil, "", http.StatusNotFound, fmt.Errorf("proxy: the path must start with /PROVIDER/, one of: %s", strings.Join(set.Names(), ", "))
	}
	return nil, "", http.StatusNotFound, fmt.Errorf("proxy: no provider named %q; the path must start with /PROVIDER/, one of: %s", first, strings.Join(set.Names(), ", "))
}

// shadowed returns the providers whose names are API roots of the default
// provider's type: with that default they cannot be reached by prefix.
func shadowed(set *registry.Set, def string) []string {
	p, err := set.Provider(def)
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range set.Names() {
		if name != def && apiRoots[p.Type][name] {
			out = append(out, name)
		}
	}
	return out
}

// targetURL appends the escaped path rest to base's path. The base URL's
// own query, if any, is kept for the rewrite step to merge.
func targetURL(base, rest string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	esc := strings.TrimRight(u.EscapedPath(), "/") + rest
	p, err := url.PathUnescape(esc)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath = p, esc
	return u, nil
}

// joinQuery merges the base URL's query with the client's.
func joinQuery(base, client string) string {
	switch {
	case base == "":
		return client
	case client == "":
		return base
	}
	return base + "&" + client
}

// checkOrigin guards a loopback proxy against web pages. A page in the
// user's browser can send requests to 127.0.0.1, and with DNS rebinding
// read the answers; the proxy would add a real credential to them. So
// unless remote use was allowed (which requires a client token), the Host
// must be a loopback name and a browser's Origin, if sent, a loopback
// origin. It returns the refusal message, or "".
func (s *Server) checkOrigin(r *http.Request) string {
	if s.opts.AllowRemote {
		return ""
	}
	if !loopbackHost(r.Host) {
		return fmt.Sprintf("proxy: Host %q is not a loopback name; this proxy serves loopback clients only", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !loopbackHost(u.Host) {
			return fmt.Sprintf("proxy: requests from web origin %q are refused", o)
		}
	}
	return ""
}

// loopbackHost reports whether a host[:port] names this machine only.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return config.IsLoopback(host)
}

// writeError answers with a JSON error that OpenAI-style clients
// (error.message) and Anthropic-style clients (type, error.type,
// error.message) both display.
func writeError(w http.ResponseWriter, status int, msg string) {
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Type = "error"
	body.Error.Type = "byokcred_proxy_error"
	body.Error.Message = msg
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
