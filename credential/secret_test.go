package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "CANARY-sk-5f1e0c9a7b3d4e2f8a6b"

func TestSecretNeverFormats(t *testing.T) {
	s := NewSecret(canary)
	tok := &Token{Value: s, Kind: KindBearer}
	type holder struct {
		unexported Secret
		Exported   Secret
	}
	h := holder{unexported: s, Exported: s}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, tok), fmt.Sprintf(verb, *tok),
			fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, map[string]Secret{"k": s}))
	}
	outputs = append(outputs, s.String(), s.GoString(), s.Mask(), s.Fingerprint(), fmt.Sprint(s), fmt.Sprintln(tok))
	outputs = append(outputs, fmt.Errorf("wrapped: %v", s).Error(), errors.New(fmt.Sprint(tok)).Error())
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(newHandler(&buf))
		l.Info("token", "secret", s, "token", tok, "holder", h, "any", any(s))
		outputs = append(outputs, buf.String())
	}
	j, err := json.Marshal(struct {
		S Secret
		T *Token
	}{s, tok})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	for _, out := range outputs {
		if strings.Contains(out, canary) || strings.Contains(out, canary[:12]) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != canary {
		t.Errorf("Reveal() = %q, want the raw value", s.Reveal())
	}
}

func TestSecretMask(t *testing.T) {
	tests := []struct {
		name, value, wantPrefix string
	}{
		{"empty", "", "(empty)"},
		{"short values show no characters", "abc123", "…(6 chars, sha256:"},
		{"long values show four", "sk-proj-0123456789abcdefghij", "sk-p…(28 chars, sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewSecret(tc.value).Mask()
			if !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("Mask() = %q, want prefix %q", got, tc.wantPrefix)
			}
		})
	}
	if NewSecret("a").Fingerprint() == NewSecret("b").Fingerprint() {
		t.Error("different values share a fingerprint")
	}
}
