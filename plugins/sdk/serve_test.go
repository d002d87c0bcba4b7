package sdk

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// TestLogger: JSON lines (so the host keeps levels and fields), debug by
// default, level from BYOKCRED_PLUGIN_LOG_LEVEL.
func TestLogger(t *testing.T) {
	tests := []struct {
		name  string
		level string
		want  []string // messages that get through
	}{
		{"default is debug", "", []string{"debug", "info"}},
		{"warn", "warn", nil},
		{"trace", "trace", []string{"trace", "debug", "info"}},
		{"nonsense keeps the default", "loud", []string{"debug", "info"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := newLogger("myplugin", &buf, tc.level)
			l.Trace("trace")
			l.Debug("debug", "k", "v")
			l.Info("info")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if line == "" {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				if m["@module"] != "myplugin" {
					t.Errorf("module %v", m["@module"])
				}
				got = append(got, m["@message"].(string))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoggerReadsTheLevelVariable: Logger takes its level from
// BYOKCRED_PLUGIN_LOG_LEVEL in the plugin's environment.
func TestLoggerReadsTheLevelVariable(t *testing.T) {
	t.Setenv("BYOKCRED_PLUGIN_LOG_LEVEL", "warn")
	if got := Logger("myplugin").GetLevel(); got != hclog.Warn {
		t.Errorf("level %v, want warn", got)
	}
}

func TestBuildVersion(t *testing.T) {
	if v := BuildVersion(); v == "" {
		t.Error("empty version")
	}
}
