package secretfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/secretfile"
)

// TestErrorReason: every error is a *secretfile.Error whose message is
// "secretfile: " and its Reason, so that a caller naming the file in its
// own words (aws, gcp) takes the reason by type instead of cutting the
// prefix off the text; a missing file still matches fs.ErrNotExist.
func TestErrorReason(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name       string
		err        func() error
		wantReason string
		notExist   bool
	}{
		{"mode", func() error { _, err := secretfile.ReadBytes(open); return err },
			open + " is readable by group or others (mode 0644); run: chmod 600 " + open, false},
		{"missing", func() error { _, err := secretfile.ReadBytes(missing); return err },
			"open " + missing + ": no such file or directory", true},
		{"missing, limited", func() error { _, err := secretfile.ReadLimited(missing, 10); return err },
			"stat " + missing + ": no such file or directory", true},
		{"directory, limited", func() error { _, err := secretfile.ReadLimited(dir, 10); return err },
			dir + " is a directory, not a regular file", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			var se *secretfile.Error
			if !errors.As(err, &se) {
				t.Fatalf("errors.As(%v, *secretfile.Error) = false", err)
			}
			type got struct {
				Message, Reason string
				NotExist        bool
			}
			want := got{"secretfile: " + tc.wantReason, tc.wantReason, tc.notExist}
			if diff := cmp.Diff(want, got{err.Error(), secretfile.Reason(err), errors.Is(err, fs.ErrNotExist)}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := secretfile.Reason(errors.New("secretfile: not ours")); got != "secretfile: not ours" {
		t.Errorf("Reason of another error = %q, want its whole message", got)
	}
}
