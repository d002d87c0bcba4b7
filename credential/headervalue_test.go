package credential

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const hdrCanary = "CANARY-hdr-7f3a9c"

func TestCheckHeaderValue(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		kind    Kind
		wantErr string // "" means accepted
	}{
		{name: "plain key", value: hdrCanary, kind: KindAPIKey},
		{name: "jwt-like bearer", value: "eyJh.eyJi.sig-_~+/=", kind: KindBearer},
		{name: "extra trailing newline", value: hdrCanary + "\n", kind: KindAPIKey, wantErr: "byte 17 of 18 is a line feed (0x0a), which an HTTP header cannot carry (trailing whitespace or an extra newline"},
		{name: "crlf inside", value: hdrCanary + "\r\nX-Evil: 1", kind: KindBearer, wantErr: "byte 17 of 28 is a carriage return (0x0d)"},
		{name: "control character", value: "ab\x01" + hdrCanary, kind: KindBearer, wantErr: "byte 2 of 20 is a control character (0x01)"},
		{name: "DEL", value: hdrCanary + "\x7fx", kind: KindBearer, wantErr: "byte 17 of 19 is a DEL control character (0x7f)"},
		{name: "NUL", value: "\x00" + hdrCanary, kind: KindAPIKey, wantErr: "byte 0 of 18 is a NUL byte"},
		{name: "non-ASCII", value: hdrCanary + "é", kind: KindAPIKey, wantErr: "byte 17 of 19 is a non-ASCII byte"},
		{name: "space inside a bearer token", value: "abc " + hdrCanary, kind: KindBearer, wantErr: "byte 3 of 21 is a space"},
		{name: "space inside an API key", value: "abc " + hdrCanary, kind: KindAPIKey},
		{name: "leading space in an API key", value: " " + hdrCanary, kind: KindAPIKey, wantErr: "byte 0 of 18 is a space"},
		{name: "trailing tab in an API key", value: hdrCanary + "\t", kind: KindAPIKey, wantErr: "byte 17 of 18 is a tab (0x09)"},
		{name: "unknown kind is strict", value: "a b", kind: 0, wantErr: "byte 1 of 3 is a space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHeaderValue(tc.value, tc.kind)
			got := ""
			if err != nil {
				got = err.Error()
				if strings.Contains(got, hdrCanary) {
					t.Fatalf("error reveals the value: %s", got)
				}
			}
			if tc.wantErr == "" || got == "" {
				if diff := cmp.Diff(tc.wantErr, got); diff != "" {
					t.Fatalf("error (-want +got):\n%s", diff)
				}
				return
			}
			if !strings.Contains(got, tc.wantErr) {
				t.Fatalf("err = %q, want it to contain %q", got, tc.wantErr)
			}
		})
	}
}

// A plugin or any other fetched source handing back a token that cannot be
// a header value is refused by the cache, naming the provider and the byte,
// never the value.
func TestCacheRefusesTokensThatCannotBeHeaderValues(t *testing.T) {
	clock := newFakeClock()
	for _, v := range []string{hdrCanary + "\n", hdrCanary + "\x01", "\x7f" + hdrCanary, hdrCanary + "ü"} {
		c := NewCache(sourceFunc(func(context.Context) (*Token, error) {
			return &Token{Value: NewSecret(v), Kind: KindBearer, Expiry: clock.Now().Add(time.Hour)}, nil
		}), CacheOptions{Name: "gateway", Now: clock.Now})
		tok, err := c.Token(context.Background())
		if err == nil {
			t.Fatalf("%q: got a token %v, want an error", v, tok)
		}
		msg := err.Error()
		if strings.Contains(msg, hdrCanary) || !strings.Contains(msg, "gateway: no token: source returned a token that cannot be sent: byte ") {
			t.Errorf("%q: err = %s", v, msg)
		}
	}
}
