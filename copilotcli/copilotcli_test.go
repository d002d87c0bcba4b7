package copilotcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBYOKEnvDropsGitHubTokens(t *testing.T) {
	in := []string{"PATH=/bin", "GH_TOKEN=ghp_x", "GITHUB_TOKEN=ghs_y", "COPILOT_GITHUB_TOKEN=z", "HOME=/h", "GITHUB_TOKENISH=keep", "GH_ENTERPRISE_TOKEN=e"}
	want := []string{"PATH=/bin", "HOME=/h", "GITHUB_TOKENISH=keep"}
	if diff := cmp.Diff(want, BYOKEnv(in)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "copilot")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	t.Run("env var wins", func(t *testing.T) {
		t.Setenv(PathEnv, bin)
		got, err := Find()
		if err != nil || got != bin {
			t.Errorf("Find() = %q, %v; want %q", got, err, bin)
		}
	})
	t.Run("env var pointing nowhere is an error naming it", func(t *testing.T) {
		t.Setenv(PathEnv, filepath.Join(dir, "missing"))
		_, err := Find()
		if err == nil || !strings.Contains(err.Error(), PathEnv+"=") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("local install found walking up", func(t *testing.T) {
		t.Setenv(PathEnv, "")
		root := t.TempDir()
		p := filepath.Join(root, LocalInstallDir, RelativeBinary())
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o755)
		sub := filepath.Join(root, "a", "b")
		os.MkdirAll(sub, 0o755)
		t.Chdir(sub)
		got, err := Find()
		if err != nil || got != p {
			t.Errorf("Find() = %q, %v; want %q", got, err, p)
		}
	})
}
