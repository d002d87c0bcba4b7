package secretfile_test

import (
	"errors"
	"io/fs"
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

// TestReadLimited: the rules for files the cloud SDKs read (regular, at
// most max bytes, no blocking open), without the owner-only mode.
func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := write("big", strings.Repeat("x", 2<<20), 0o600)
	config := write("config", "[default]\nregion = us-east-1\n", 0o644)
	const max = 1 << 20
	tests := []struct {
		name, path, want, wantErr string
	}{
		{name: "regular, readable by others", path: config, want: "[default]\nregion = us-east-1\n"},
		{name: "symlink to a regular file", path: link("config-link", config), want: "[default]\nregion = us-east-1\n"},
		{name: "empty", path: write("empty", "", 0o600), want: ""},
		{name: "FIFO", path: fifo, wantErr: "secretfile: " + fifo + " is a FIFO, not a regular file"},
		{name: "/dev/zero", path: "/dev/zero", wantErr: "secretfile: /dev/zero is a character device, not a regular file"},
		{name: "symlink to /dev/zero", path: link("zero", "/dev/zero"), wantErr: "secretfile: " + filepath.Join(dir, "zero") + " is a character device, not a regular file"},
		{name: "directory", path: dir, wantErr: "secretfile: " + dir + " is a directory, not a regular file"},
		{name: "2 MiB", path: big, wantErr: "secretfile: " + big + " is 2097152 bytes; at most 1048576 are read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secretfile.ReadLimited(tc.path, max)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr || string(got) != tc.want {
				t.Errorf("ReadLimited = %q, %q; want %q, %q", got, gotErr, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := secretfile.ReadLimited(filepath.Join(dir, "missing"), max); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
