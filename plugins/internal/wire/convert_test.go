package wire

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/byokcred/byokcred/credential"
	pb "github.com/byokcred/byokcred/plugins/proto"
)

type named string

func TestConfigToStruct(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]any
		want    map[string]any // after the round trip a plugin sees
		wantErr string
	}{
		{
			name: "yaml shapes",
			in: map[string]any{
				"s": "x", "b": true, "i": 3, "u": uint8(4), "f": 1.5, "null": nil,
				"list":   []any{"a", 1},
				"strs":   []string{"a", "b"},
				"map":    map[string]any{"k": "v"},
				"env":    map[string]string{"A": "1"},
				"yaml2":  map[any]any{"k": "v"},
				"dur":    90 * time.Second,
				"time":   time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
				"secret": credential.NewSecret("s3cret"),
				"named":  named("n"),
			},
			want: map[string]any{
				"s": "x", "b": true, "i": 3.0, "u": 4.0, "f": 1.5, "null": nil,
				"list":   []any{"a", 1.0},
				"strs":   []any{"a", "b"},
				"map":    map[string]any{"k": "v"},
				"env":    map[string]any{"A": "1"},
				"yaml2":  map[string]any{"k": "v"},
				"dur":    "1m30s",
				"time":   "2030-01-02T03:04:05Z",
				"secret": "s3cret", // revealed: the plugin is its recipient
				"named":  "n",
			},
		},
		{
			name:    "non-string map key names the path",
			in:      map[string]any{"outer": map[string]any{"inner": map[any]any{1: "x"}}},
			wantErr: `config key "outer.inner": map key 1 is not a string`,
		},
		{
			name:    "unsupported type names the key",
			in:      map[string]any{"ch": make(chan int)},
			wantErr: `config key "ch": unsupported value type chan int`,
		},
		{
			name: "empty",
			in:   nil,
			want: map[string]any{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ConfigToStruct(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, st.AsMap()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenRoundTrip(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	in := &credential.Token{Value: credential.NewSecret("v"), Kind: credential.KindAPIKey, Expiry: exp, RefreshAt: exp.Add(-time.Minute)}
	out, err := TokenFromProto(TokenToProto(in))
	if err != nil {
		t.Fatal(err)
	}
	type flat struct {
		Value             string
		Kind              credential.Kind
		Expiry, RefreshAt time.Time
	}
	if diff := cmp.Diff(flat{"v", credential.KindAPIKey, exp, exp.Add(-time.Minute)},
		flat{out.Value.Reveal(), out.Kind, out.Expiry, out.RefreshAt}); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
}

func TestTokenFromProtoRefusesGarbage(t *testing.T) {
	const secret = "tok-that-must-not-leak"
	tests := []struct {
		name string
		in   *pb.GetTokenResponse
		want string
	}{
		{"nil", nil, "plugin returned an invalid token: no response"},
		{"empty value", &pb.GetTokenResponse{Kind: pb.TokenKind_TOKEN_KIND_BEARER}, "plugin returned an invalid token: the value is empty"},
		{"unspecified kind", &pb.GetTokenResponse{Value: secret}, "plugin returned an invalid token: unknown kind 0 (want api_key or bearer)"},
		{"future kind", &pb.GetTokenResponse{Value: secret, Kind: 7}, "plugin returned an invalid token: unknown kind 7 (want api_key or bearer)"},
		{"newline", &pb.GetTokenResponse{Value: secret + "\n", Kind: pb.TokenKind_TOKEN_KIND_BEARER}, "plugin returned an invalid token: the value has leading or trailing whitespace or a line break"},
		{"bad timestamp", &pb.GetTokenResponse{Value: secret, Kind: pb.TokenKind_TOKEN_KIND_BEARER, Expiry: &timestamppb.Timestamp{Nanos: -1}}, "plugin returned an invalid token: bad expiry: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TokenFromProto(tc.in)
			if err == nil || !errors.Is(err, ErrInvalidToken) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the value: %v", err)
			}
		})
	}
}

func TestCheckExpiry(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		expiry time.Time
		want   string
	}{
		{"no expiry", time.Time{}, ""},
		{"future", now.Add(time.Second), ""},
		{"exactly now", now, "plugin returned an expired token: it expired at 2030-01-01T00:00:00Z"},
		{"past", now.Add(-time.Hour), "plugin returned an expired token: it expired at 2029-12-31T23:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckExpiry(&credential.Token{Value: credential.NewSecret("v"), Expiry: tc.expiry}, now)
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ErrExpiredToken) {
					t.Errorf("%v does not wrap ErrExpiredToken", err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
