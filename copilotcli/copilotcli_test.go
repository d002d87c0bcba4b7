package copilotcli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBYOKEnvDropsGitHubTokens(t *testing.T) {
	in := []string{"PATH=/bin", "GH_TOKEN=ghp_x", "GITHUB_TOKEN=ghs_y", "COPILOT_GITHUB_TOKEN=z", "HOME=/h", "GITHUB_TOKENISH=keep", "GH_ENTERPRISE_TOKEN=e"}
	want := []string{"PATH=/bin", "HOME=/h", "GITHUB_TOKENISH=keep"}
	if diff := cmp.Diff(want, byokEnv(in)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, mode os.FileMode) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plat := filepath.Join("node_modules", "@github", platformPackage())
	// npm install --prefix ROOT/prefix @github/copilot
	prefixBin := mk(filepath.Join("prefix", plat, "copilot"), 0o755)
	mk(filepath.Join("prefix", "node_modules", "@github", "copilot", "npm-loader.js"), 0o755)
	// npm install -g with prefix ROOT/global: bin/copilot → the launcher
	globalBin := mk(filepath.Join("global", "lib", plat, "copilot"), 0o755)
	loader := mk(filepath.Join("global", "lib", "node_modules", "@github", "copilot", "npm-loader.js"), 0o755)
	os.MkdirAll(filepath.Join(root, "global", "bin"), 0o755)
	if err := os.Symlink(loader, filepath.Join(root, "global", "bin", "copilot")); err != nil {
		t.Fatal(err)
	}
	standalone := mk(filepath.Join("standalone", "copilot"), 0o755)
	notExec := mk(filepath.Join("noexec", "copilot"), 0o644)
	// A byokcred checkout with `make deps` done, and a directory inside it.
	localBin := mk(filepath.Join("checkout", localInstallDir, relativeBinary()), 0o755)
	sub := filepath.Join(root, "checkout", "a", "b")
	os.MkdirAll(sub, 0o755)
	empty := t.TempDir()

	noPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(p string) func(string) (string, error) {
		return func(string) (string, error) { return p, nil }
	}
	tests := []struct {
		name     string
		env      string
		wd       string
		lookPath func(string) (string, error)
		want     string
		wantErr  []string // substrings of the error
	}{
		{name: "env: the binary", env: standalone, wd: empty, lookPath: noPath, want: standalone},
		{name: "env: an npm --prefix install directory", env: filepath.Join(root, "prefix"), wd: empty, lookPath: noPath, want: prefixBin},
		{name: "env: the package directory of the launcher", env: filepath.Join(root, "prefix", "node_modules", "@github", "copilot"), wd: empty, lookPath: noPath, want: prefixBin},
		{name: "env: a global npm prefix", env: filepath.Join(root, "global"), wd: empty, lookPath: noPath, want: globalBin},
		{name: "env: the launcher resolves to the platform binary", env: filepath.Join(root, "global", "bin", "copilot"), wd: empty, lookPath: noPath, want: globalBin},
		{name: "env: a standalone binary's directory", env: filepath.Join(root, "standalone"), wd: empty, lookPath: noPath, want: standalone},
		{name: "env wins over the local install", env: standalone, wd: sub, lookPath: noPath, want: standalone},
		{name: "env: missing path", env: filepath.Join(root, "missing"), wd: empty, lookPath: noPath, wantErr: []string{PathEnv + "=" + filepath.Join(root, "missing")}},
		{name: "env: not executable", env: notExec, wd: empty, lookPath: noPath, wantErr: []string{"not executable"}},
		{name: "env: a directory without the runtime", env: empty, wd: empty, lookPath: noPath, wantErr: []string{"directory without the runtime", "npm install --prefix " + empty + " @github/copilot@" + PinnedVersion}},
		{name: "local install found walking up", wd: sub, lookPath: noPath, want: localBin},
		{name: "local install wins over PATH", wd: sub, lookPath: onPath(standalone), want: localBin},
		{name: "PATH: global npm install", wd: empty, lookPath: onPath(filepath.Join(root, "global", "bin", "copilot")), want: globalBin},
		{name: "PATH: standalone binary", wd: empty, lookPath: onPath(standalone), want: standalone},
		{name: "nothing: the error lists what was searched and the fix", wd: empty, lookPath: noPath,
			wantErr: []string{"$" + PathEnv + " (unset)", filepath.Join(empty, localInstallDir), "`copilot` on PATH", "npm install -g @github/copilot@" + PinnedVersion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := finder{
				getenv:     func(k string) string { return map[string]string{PathEnv: tt.env}[k] },
				getwd:      func() (string, error) { return tt.wd, nil },
				executable: func() (string, error) { return "", errors.New("none") },
				lookPath:   tt.lookPath,
			}
			got, err := f.find()
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("find() = %q, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPinnedVersionMatchesMakefile: the version the error messages
// recommend is the one `make deps` installs and the tests run.
func TestPinnedVersionMatchesMakefile(t *testing.T) {
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	want := "COPILOT_CLI_VERSION := " + PinnedVersion + "\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("Makefile lacks %q", want)
	}
}
