// Package configtest writes config files for tests.
package configtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes src to a 0600 file c.yaml in a fresh temporary directory and
// returns its path.
func Write(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
