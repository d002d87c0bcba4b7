package sdk

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Config reads a provider's config map strictly: every key must be read by
// one of its getters, and a value of the wrong type is an error that names
// the key. Errors accumulate; [Config.Err] reports them all, together with any
// key that no getter asked for.
//
//	c := sdk.NewConfig(raw)
//	path := c.String("path", sdk.Required)
//	kind := c.String("kind", "bearer")
//	if err := c.Err(); err != nil {
//		return nil, fmt.Errorf("myplugin: %w", err)
//	}
//
// Values arrive as protobuf Struct values decode them: strings, float64,
// bool, []any and map[string]any.
type Config struct {
	m    map[string]any
	read map[string]bool
	errs []error
}

// Required, passed as a getter's default, makes a missing or empty key an
// error.
const Required = "\x00required"

// NewConfig wraps a config map. A nil map is an empty config.
func NewConfig(m map[string]any) *Config {
	if m == nil {
		m = map[string]any{}
	}
	return &Config{m: m, read: make(map[string]bool)}
}

func (c *Config) get(key string) (any, bool) {
	c.read[key] = true
	v, ok := c.m[key]
	if ok && v == nil {
		// `key:` with no value in YAML: treat as absent.
		return nil, false
	}
	return v, ok
}

func (c *Config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// Has reports whether key is set (and marks it as read).
func (c *Config) Has(key string) bool {
	_, ok := c.get(key)
	return ok
}

// String reads a string. def is returned when the key is absent; pass
// [Required] to make it mandatory (an empty string then counts as absent).
func (c *Config) String(key, def string) string {
	v, ok := c.get(key)
	if !ok {
		if def == Required {
			c.fail("config key %q is required", key)
			return ""
		}
		return def
	}
	s, ok := v.(string)
	if !ok {
		c.fail("config key %q must be a string, not %s", key, typeName(v))
		return ""
	}
	if s == "" && def == Required {
		c.fail("config key %q is required and must not be empty", key)
	}
	return s
}

// OneOf reads a string that must be one of allowed; def is used when absent.
func (c *Config) OneOf(key, def string, allowed ...string) string {
	s := c.String(key, def)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if _, isSet := c.m[key]; isSet {
		c.fail("config key %q must be one of %s, not %q", key, strings.Join(allowed, ", "), s)
	}
	return def
}

// StringSlice reads a list of strings; absent is nil.
func (c *Config) StringSlice(key string) []string {
	v, ok := c.get(key)
	if !ok {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		c.fail("config key %q must be a list of strings, not %s", key, typeName(v))
		return nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			c.fail("config key %q: item %d must be a string, not %s", key, i, typeName(e))
			return nil
		}
		out[i] = s
	}
	return out
}

// StringMap reads a map of strings; absent is nil. A number or bool value is
// an error rather than silently converted, because YAML turns `on` and `0755`
// into things that are not what the user typed.
func (c *Config) StringMap(key string) map[string]string {
	v, ok := c.get(key)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.fail("config key %q must be a map of strings, not %s", key, typeName(v))
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			c.fail("config key %q: value of %q must be a string, not %s (quote it in YAML)", key, k, typeName(m[k]))
			return nil
		}
		out[k] = s
	}
	return out
}

// Duration reads a Go duration string ("30s", "1m30s"); def when absent. A
// bare number is refused: its unit would be a guess.
func (c *Config) Duration(key string, def time.Duration) time.Duration {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		c.fail("config key %q must be a duration string such as \"30s\", not %s", key, typeName(v))
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		c.fail("config key %q: %q is not a positive duration such as \"30s\"", key, s)
		return def
	}
	return d
}

// Int reads a whole number; def when absent.
func (c *Config) Int(key string, def int) int {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		c.fail("config key %q must be a whole number, not %s", key, typeName(v))
		return def
	}
	return int(f)
}

// Bool reads a boolean; def when absent.
func (c *Config) Bool(key string, def bool) bool {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		c.fail("config key %q must be true or false, not %s", key, typeName(v))
		return def
	}
	return b
}

// Err returns every type error met so far and one error per key that no
// getter read, naming the key and the keys that are known. Call it after the
// last getter.
func (c *Config) Err() error {
	errs := append([]error(nil), c.errs...)
	known := slices.Sorted(maps.Keys(c.read))
	// Sorted, so that errors come in the same order on every run.
	for _, k := range slices.Sorted(maps.Keys(c.m)) {
		if !c.read[k] {
			errs = append(errs, fmt.Errorf("unknown config key %q (known keys: %s)", k, strings.Join(known, ", ")))
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return joined(errs)
}

// joined keeps every error reachable by errors.Is and As, like errors.Join,
// but prints on one line, since the message ends up in a log line.
type joined []error

func (j joined) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (j joined) Unwrap() []error { return j }

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("%T", x)
	}
}
