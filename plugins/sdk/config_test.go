package sdk

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// read is what a plugin's Configure would read; the zero values are what a
// failed getter returns.
type read struct {
	Command string
	Args    []string
	Env     map[string]string
	Timeout time.Duration
	Format  string
	Retries int
	Debug   bool
}

func readAll(c *Config) read {
	return read{
		Command: c.String("command", Required),
		Args:    c.StringSlice("args"),
		Env:     c.StringMap("env"),
		Timeout: c.Duration("timeout", 10*time.Second),
		Format:  c.OneOf("format", "auto", "auto", "raw"),
		Retries: c.Int("retries", 1),
		Debug:   c.Bool("debug", false),
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]any
		want    read
		wantErr string
	}{
		{
			name: "all set",
			in: map[string]any{
				"command": "vault", "args": []any{"read", "x"}, "env": map[string]any{"A": "1"},
				"timeout": "30s", "format": "raw", "retries": 3.0, "debug": true,
			},
			want: read{Command: "vault", Args: []string{"read", "x"}, Env: map[string]string{"A": "1"}, Timeout: 30 * time.Second, Format: "raw", Retries: 3, Debug: true},
		},
		{
			name: "defaults",
			in:   map[string]any{"command": "vault", "args": nil},
			want: read{Command: "vault", Timeout: 10 * time.Second, Format: "auto", Retries: 1},
		},
		{
			name:    "unknown key names the key and the known ones",
			in:      map[string]any{"command": "vault", "comand": "x"},
			want:    read{Command: "vault", Timeout: 10 * time.Second, Format: "auto", Retries: 1},
			wantErr: `unknown config key "comand" (known keys: args, command, debug, env, format, retries, timeout)`,
		},
		{
			name:    "missing required",
			in:      map[string]any{},
			want:    read{Timeout: 10 * time.Second, Format: "auto", Retries: 1},
			wantErr: `config key "command" is required`,
		},
		{
			name: "wrong types, all reported",
			in: map[string]any{
				"command": 1.0, "args": "x", "env": map[string]any{"A": 1.0}, "timeout": 30.0,
				"format": "json", "retries": 1.5, "debug": "yes",
			},
			want: read{Timeout: 10 * time.Second, Format: "auto", Retries: 1},
			wantErr: `config key "command" must be a string, not a number; ` +
				`config key "args" must be a list of strings, not a string; ` +
				`config key "env": value of "A" must be a string, not a number (quote it in YAML); ` +
				`config key "timeout" must be a duration string such as "30s", not a number; ` +
				`config key "format" must be one of auto, raw, not "json"; ` +
				`config key "retries" must be a whole number, not a number; ` +
				`config key "debug" must be true or false, not a string`,
		},
		{
			name:    "bad duration",
			in:      map[string]any{"command": "x", "timeout": "-1s"},
			want:    read{Command: "x", Timeout: 10 * time.Second, Format: "auto", Retries: 1},
			wantErr: `config key "timeout": "-1s" is not a positive duration such as "30s"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig(tc.in)
			got := readAll(c)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			gotErr := ""
			if err := c.Err(); err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
