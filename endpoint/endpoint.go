// Package endpoint holds byokcred's rules for URLs that carry credentials —
// one place, used by the config loader, the auth modules and the plugins:
// Check (https, or plain http only to this machine) and Redact (a URL fit
// for printing). Check's errors are phrased to follow the name of the key
// that holds the URL.
package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Check enforces the transport rule for anything that carries a
// credential: https, or plain http only to a loopback host.
func Check(raw string) error {
	// A raw space, control or invisible (format) character is not valid in
	// a URL; printed, it could hide or rewrite what the URL shows
	// (a right-to-left override, a line break in copilot-env's output).
	for i, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return fmt.Errorf("URL holds a space, a control or an invisible character at byte %d; percent-encode it (a space is %%20) or remove it", i)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Only the reason: the URL is shown redacted where it is shown.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("not a valid URL: %v", err)
	}
	if u.Host == "" {
		// Quoted redacted: a query may hold a key (?api-key=…).
		return fmt.Errorf("URL %q has no host; write it as https://host/path", Redact(raw))
	}
	if u.User != nil {
		return errors.New("URL must not carry user:password; configure the credential under auth: instead")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http to %s would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)", u.Hostname())
	default:
		return fmt.Errorf("unsupported URL scheme %q; use https", u.Scheme)
	}
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
