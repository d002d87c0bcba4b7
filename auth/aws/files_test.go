package aws

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"
)

// TestSharedFilesAreWhatWasChecked: the SDK reads the bytes that were
// checked, not the file as it is later (swapped between the check and the
// SDK's read, for a FIFO or /dev/zero by someone who can), and a profile's absence is
// reported with the files' own paths, not the copies'.
func TestSharedFilesAreWhatWasChecked(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("in-memory copies are Linux's; elsewhere the SDK reads the checked path")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte("[profile checked]\nregion = eu-west-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[checked]\naws_access_key_id = AKIACHECKED\naws_secret_access_key = CANARY-checked-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds}
	files, err := openSharedFiles(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	// Swapped after the check (for another regular file: a FIFO would
	// hang the test on a regression, /dev/zero exhaust its memory).
	for _, p := range []string{cfg, creds} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[profile checked]\nregion = us-west-2\n[checked]\naws_access_key_id = AKIASWAPPED\naws_secret_access_key = x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := awsconfig.LoadSharedConfigProfile(context.Background(), "checked", files.sharedOptions)
	if err != nil {
		t.Fatal(err)
	}
	type got struct{ Region, AccessKeyID string }
	if diff := cmp.Diff(got{"eu-west-1", "AKIACHECKED"}, got{sc.Region, sc.Credentials.AccessKeyID}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, err = awsconfig.LoadSharedConfigProfile(context.Background(), "missing", files.sharedOptions)
	if err == nil {
		t.Fatal("profile missing found")
	}
	if diff := cmp.Diff("profile missing is not defined in "+cfg+" or "+creds, checkProfileError("missing", files, err).Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
