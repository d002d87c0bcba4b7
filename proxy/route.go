package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/endpoint"
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
	if reason := unsafePath(r.URL.EscapedPath()); reason != "" {
		return nil, "", http.StatusBadRequest, fmt.Errorf("proxy: path %q %s", r.URL.EscapedPath(), reason)
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

// maxDecodes bounds how many layers of percent-encoding unsafePath peels
// off; a path encoded more often than that is refused.
const maxDecodes = 4

// unsafePath returns why an escaped request path must not be forwarded, or
// "". A dot segment could climb out of the base URL's path on the upstream
// (https://gw/team-a/v1 + /../../team-b), to a place the credential was not
// configured for, and servers disagree on what a dot segment is: some
// decode a path twice (%252e%252e), treat a backslash as a slash (..\),
// drop ;parameters from a segment (..;/, Tomcat and Spring), decode an
// overlong UTF-8 dot (%c0%ae), normalise Unicode (NFKC turns ‥ and … into
// dots), drop characters they deem ignorable (a no-break or zero-width
// space, a combining mark) or re-read a decoded ? or # as the end of the
// path (..%3f/x). Rather than list each reading, every layer of decoding
// is checked and a path is refused when any segment holds a byte outside
// printable ASCII, a ? or #, or is made of dots and spaces only. No model
// API path needs any of these.
func unsafePath(escaped string) string {
	p := escaped
	for range maxDecodes {
		d := unescapeLenient(p)
		if !utf8.ValidString(d) {
			return "is not valid UTF-8"
		}
		if strings.ContainsFunc(d, unicode.IsControl) {
			return "has a control character"
		}
		if strings.ContainsFunc(d, func(r rune) bool { return r > unicode.MaxASCII }) {
			return "has a character outside ASCII (Unicode normalisation could turn it into a dot or drop it)"
		}
		if strings.ContainsAny(d, "?#") {
			return "has an encoded ? or # (a server that decodes the path could end it there)"
		}
		if hasDotSegment(d) {
			return "has a dot segment"
		}
		if d == p {
			return ""
		}
		p = d
	}
	return "is percent-encoded too many times"
}

// unescapeLenient decodes every valid %XX in s and keeps any other "%" as
// it is, as lenient servers do: /%2e%2e/%zz is /../%zz to them. It also
// decodes IIS's %uXXXX (%u002e is a dot there).
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		if s[i] == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && ishex(s[i+2]) && ishex(s[i+3]) && ishex(s[i+4]) && ishex(s[i+5]) {
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b = utf8.AppendRune(b, r)
			i += 5
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// hasDotSegment reports whether a decoded path has a segment that some
// server could read as "." or "..": segments split at "/" and "\\", cut at
// ";", made of dots only (a trailing dot or space is dropped by some file
// systems), counting the full-width and other look-alike dots that Unicode
// normalisation turns into ".".
func hasDotSegment(path string) bool {
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		dots := 0
		only := strings.IndexFunc(seg, func(r rune) bool {
			switch r {
			case '.', '\uff0e', '\u2024', '\ufe52':
				dots++
				return false
			case ' ':
				return false
			}
			return true
		}) < 0
		if only && dots > 0 {
			return true
		}
	}
	return false
}

// routingHeader reports whether a request header may tell some server or
// gateway which path, URL, host or method to serve instead of the request
// line's: IIS and Symfony read X-Original-URL and X-Rewrite-URL, Envoy
// X-Envoy-Original-Path, frameworks X-Forwarded-Prefix and
// X-HTTP-Method-Override, and others invent more. Such a header could reach
// a path the dot-segment check refused or a method the proxy does not
// forward, so the whole family is removed from every request: any name
// with a word url, uri, path, prefix or host, the X-Original-, X-Rewrite-,
// X-Override-, X-Forwarded- and X-Envoy- families, Forwarded, and the
// method overrides. Underscores count as dashes, since CGI-style servers
// read X_Original_URL as X-Original-URL. No model API takes a header of
// these.
func routingHeader(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if n == "forwarded" {
		return true
	}
	for _, prefix := range routingPrefixes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	for w := range strings.SplitSeq(n, "-") {
		switch w {
		case "url", "uri", "path", "prefix", "host":
			return true
		}
	}
	return false
}

var routingPrefixes = []string{"x-original-", "x-rewrite-", "x-override-", "x-forwarded-", "x-envoy-", "x-http-method", "x-method-override"}

// forwardedMethods are the methods model APIs use (OpenAI, Azure OpenAI and
// Anthropic: GET, POST, DELETE; HEAD is GET without a body). Others get 405:
// TRACE would echo the credential back to the client, CONNECT asks for a
// tunnel, and the rest have no use with a model API.
var forwardedMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodDelete: true}

// allowedMethods is forwardedMethods for the Allow header.
const allowedMethods = "GET, HEAD, POST, DELETE"

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
		// url.Parse's error quotes the URL, whose query may hold a key.
		return nil, errors.New("base_url does not parse")
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
// unless remote use was allowed (which requires a client token, which a
// page cannot know), the Host must be a loopback name, a browser's Origin,
// if sent, one of the allowed origins — a page on another loopback port is
// just another web page — and a request without an Origin must not be one
// a browser marks as made by a page (Sec-Fetch-Site other than "none",
// which is the user's own navigation: an <img> or a no-cors fetch sends no
// Origin). The proxy serves no pages of its own, so "same-origin" is
// refused too. It returns the refusal message, or "".
func (s *Server) checkOrigin(r *http.Request) string {
	if s.opts.AllowRemote {
		return ""
	}
	if !loopbackHost(r.Host) {
		return fmt.Sprintf("proxy: Host %q is not a loopback name; this proxy serves loopback clients only", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		if s.origins[strings.ToLower(o)] {
			return ""
		}
		return fmt.Sprintf("proxy: requests from web origin %q are refused (allow a trusted one with --allow-origin)", o)
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "none":
		return ""
	default:
		return fmt.Sprintf("proxy: requests a web page makes the browser send are refused (Sec-Fetch-Site: %s)", site)
	}
}

// parseOrigins checks and normalises Options.AllowOrigins.
func parseOrigins(list []string) (map[string]bool, error) {
	out := make(map[string]bool, len(list))
	for _, o := range list {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("proxy: allowed origin %q is not an origin; write it as scheme://host[:port], e.g. http://localhost:5173", o)
		}
		out[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return out, nil
}

// loopbackHost reports whether a host[:port] names this machine only.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return endpoint.IsLoopback(host)
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
