package secretfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/byokcred/byokcred/secretfile"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := write("sparse", "", 0o600)
	os.Truncate(sparse, 1<<30)
	tests := []struct {
		name, path, want, wantErr string
	}{
		{name: "one trailing newline trimmed", path: write("key", "sk-CANARY-1234\n", 0o600), want: "sk-CANARY-1234"},
		{name: "CRLF trimmed", path: write("crlf", "sk-CANARY-1234\r\n", 0o600), want: "sk-CANARY-1234"},
		{name: "readable by others", path: write("open", "sk-CANARY-1234", 0o644), wantErr: "is readable by group or others (mode 0644); run: chmod 600"},
		{name: "FIFO", path: fifo, wantErr: "is not a regular file"},
		{name: "too large", path: sparse, wantErr: "is 1073741824 bytes; a credential file holds at most 65536"},
		{name: "NUL byte", path: write("bin", "sk\x00CANARY", 0o600), wantErr: "byte 2 is a NUL byte"},
		{name: "empty", path: write("empty", "\n", 0o600), wantErr: "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := secretfile.Read(tc.path, fi, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "secretfile: ") {
					t.Fatalf("err = %v, want secretfile: … %s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "CANARY") {
					t.Errorf("error quotes the file's content: %v", err)
				}
				return
			}
			if err != nil || got.Reveal() != tc.want {
				t.Fatalf("Read = %q, %v; want %q", got.Reveal(), err, tc.want)
			}
		})
	}
}
