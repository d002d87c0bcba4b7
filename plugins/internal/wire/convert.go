package wire

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	pb "github.com/byokcred/byokcred/plugins/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/byokcred/byokcred/credential"
)

// ErrInvalidToken is wrapped by the error for a token that no host can use:
// an empty value or a kind that is neither api_key nor bearer.
var ErrInvalidToken = errors.New("plugin returned an invalid token")

// ErrExpiredToken is wrapped by the error for a token whose expiry has
// already passed when it arrives.
var ErrExpiredToken = errors.New("plugin returned an expired token")

// ConfigToStruct turns a provider's config map, as a YAML decoder produced
// it, into the google.protobuf.Struct that Configure carries.
//
// Struct is used rather than JSON bytes because it is self-describing in
// every protobuf runtime (a Python or Rust plugin gets a native map without a
// second decoder) and keeps the wire schema explicit. Its limits are JSON's:
// numbers become doubles (exact up to 2^53), so durations travel as strings.
//
// Besides the JSON-like types it accepts what YAML decoders and config
// loaders commonly produce: map[any]any with string keys, typed slices and
// maps, every integer and float type, time.Time (sent as RFC 3339),
// time.Duration (sent as "1m30s"), fmt.Stringer and [credential.Secret], whose
// value is revealed because the plugin is its intended recipient. Any other
// type is an error that names the key.
func ConfigToStruct(config map[string]any) (*structpb.Struct, error) {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(config))}
	// Sorted, so that the first reported error is the same on every run.
	for _, k := range slices.Sorted(maps.Keys(config)) {
		pv, err := toValue(k, config[k])
		if err != nil {
			return nil, err
		}
		s.Fields[k] = pv
	}
	return s, nil
}

func toValue(path string, v any) (*structpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case string:
		return structpb.NewStringValue(x), nil
	case bool:
		return structpb.NewBoolValue(x), nil
	case credential.Secret:
		return structpb.NewStringValue(x.Reveal()), nil
	case time.Time:
		return structpb.NewStringValue(x.Format(time.RFC3339Nano)), nil
	case time.Duration:
		return structpb.NewStringValue(x.String()), nil
	case map[string]any:
		s, err := nestedStruct(path, x)
		if err != nil {
			return nil, err
		}
		return structpb.NewStructValue(s), nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("config key %q: map key %v is not a string", path, k)
			}
			m[ks] = e
		}
		return toValue(path, m)
	case []any:
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, e := range x {
			pv, err := toValue(fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				return nil, err
			}
			l.Values[i] = pv
		}
		return structpb.NewListValue(l), nil
	case fmt.Stringer:
		return structpb.NewStringValue(x.String()), nil
	}
	// Typed numbers, slices and maps ([]string, map[string]string, int64…)
	// by reflection, so that a caller building config in Go need not
	// convert to []any first.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return structpb.NewNumberValue(float64(rv.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return structpb.NewNumberValue(float64(rv.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return structpb.NewNumberValue(rv.Float()), nil
	case reflect.String:
		return structpb.NewStringValue(rv.String()), nil
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return toValue(path, l)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("config key %q: map keys must be strings, not %s", path, rv.Type().Key())
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = it.Value().Interface()
		}
		return toValue(path, m)
	}
	return nil, fmt.Errorf("config key %q: unsupported value type %T", path, v)
}

func nestedStruct(path string, m map[string]any) (*structpb.Struct, error) {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pv, err := toValue(path+"."+k, m[k])
		if err != nil {
			return nil, err
		}
		s.Fields[k] = pv
	}
	return s, nil
}

// KindToProto maps a provider kind to the wire enum; an unknown kind maps to
// TOKEN_KIND_UNSPECIFIED, which the host refuses.
func KindToProto(k credential.Kind) pb.TokenKind {
	switch k {
	case credential.KindAPIKey:
		return pb.TokenKind_TOKEN_KIND_API_KEY
	case credential.KindBearer:
		return pb.TokenKind_TOKEN_KIND_BEARER
	default:
		return pb.TokenKind_TOKEN_KIND_UNSPECIFIED
	}
}

// KindFromProto maps the wire enum to a provider kind.
func KindFromProto(k pb.TokenKind) (credential.Kind, bool) {
	switch k {
	case pb.TokenKind_TOKEN_KIND_API_KEY:
		return credential.KindAPIKey, true
	case pb.TokenKind_TOKEN_KIND_BEARER:
		return credential.KindBearer, true
	default:
		return 0, false
	}
}

// TokenToProto is the plugin side's translation of a token to the wire. It
// does not judge the token; the host does (see [TokenFromProto]).
func TokenToProto(t *credential.Token) *pb.GetTokenResponse {
	r := &pb.GetTokenResponse{
		Value: t.Value.Reveal(),
		Kind:  KindToProto(t.Kind),
	}
	if !t.Expiry.IsZero() {
		r.Expiry = timestamppb.New(t.Expiry)
	}
	if !t.RefreshAt.IsZero() {
		r.RefreshAt = timestamppb.New(t.RefreshAt)
	}
	return r
}

// TokenFromProto is the host side's translation from the wire. It refuses
// what no caller could use: an empty value, an unknown kind, or a timestamp
// that is out of range. Expiry is judged separately by [CheckExpiry], since it
// depends on the clock.
//
// Errors never contain the value.
func TokenFromProto(r *pb.GetTokenResponse) (*credential.Token, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no response", ErrInvalidToken)
	}
	if r.GetValue() == "" {
		return nil, fmt.Errorf("%w: the value is empty", ErrInvalidToken)
	}
	if strings.TrimSpace(r.GetValue()) != r.GetValue() || strings.ContainsAny(r.GetValue(), "\r\n") {
		// A header value with a newline or edge spaces is a plugin bug
		// (an unparsed command output, say) and would be rejected, or worse
		// split, by the HTTP layer.
		return nil, fmt.Errorf("%w: the value has leading or trailing whitespace or a line break", ErrInvalidToken)
	}
	kind, ok := KindFromProto(r.GetKind())
	if !ok {
		return nil, fmt.Errorf("%w: unknown kind %d (want api_key or bearer)", ErrInvalidToken, int32(r.GetKind()))
	}
	t := &credential.Token{Value: credential.NewSecret(r.GetValue()), Kind: kind}
	if r.Expiry != nil {
		if err := r.Expiry.CheckValid(); err != nil {
			return nil, fmt.Errorf("%w: bad expiry: %v", ErrInvalidToken, err)
		}
		t.Expiry = r.Expiry.AsTime()
	}
	if r.RefreshAt != nil {
		if err := r.RefreshAt.CheckValid(); err != nil {
			return nil, fmt.Errorf("%w: bad refresh_at: %v", ErrInvalidToken, err)
		}
		t.RefreshAt = r.RefreshAt.AsTime()
	}
	return t, nil
}

// CheckExpiry refuses a token that is already expired at now, since handing
// it on would only move the failure to the model request.
func CheckExpiry(t *credential.Token, now time.Time) error {
	if t.Expired(now) {
		return fmt.Errorf("%w: it expired at %s", ErrExpiredToken, t.Expiry.UTC().Format(time.RFC3339))
	}
	return nil
}
