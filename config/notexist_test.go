package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A library program gets no command-line advice (-c FILE, BYOKCRED_CONFIG)
// for a missing file: the plain fact, which matches fs.ErrNotExist so that
// the command line can add its own.
func TestLoadMissingFileGivesNoCLIAdvice(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "none.yaml")
	_, err := Load(path, lookupFrom(nil))
	if err == nil {
		t.Fatal("no error for a missing file")
	}
	if diff := cmp.Diff("config: "+path+" does not exist", err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not match fs.ErrNotExist", err)
	}
}
