//go:build unix

package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// processStart identifies the process pid's start (its start time since
// boot, in clock ticks, from /proc), so that a pid that was reused names
// another process. Without /proc it is "0" for any live process.
func processStart(pid int) (string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
			return "", false // /proc works: the process does not exist
		}
		if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
			return "0", true
		}
		return "", false
	}
	// Fields after "pid (comm)": state is field 3, starttime field 22.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}

// checkOwnDir refuses a path that is not a directory of this user (a
// symlink, someone else's directory): the host never removes or uses it.
func checkOwnDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is not a directory of this user", path)
	}
	return nil
}
