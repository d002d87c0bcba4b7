package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Plugin sockets. go-plugin has each plugin listen on a unix socket that it
// creates in its temp dir and removes when it exits cleanly; a plugin killed
// with SIGKILL (as a dying host's plugins are, by the parent-death signal)
// leaves its socket behind. So the host gives every plugin process a
// directory of its own (go-plugin's PLUGIN_UNIX_SOCKET_DIR) inside one
// private directory per host process, $TMPDIR/byokcred-sock-<pid>-<start>,
// removes a process's directory once the process has ended, and on its
// first start removes the directories of earlier hosts that are no longer
// running (identified by pid and the process's start time, so that a
// reused pid does not keep a stale directory alive).

// socketEnv names the directory go-plugin's server puts its socket in.
const socketEnv = "PLUGIN_UNIX_SOCKET_DIR"

const socketDirPrefix = "byokcred-sock-"

var sockets struct {
	mu   sync.Mutex
	dir  string // this host's directory, "" until needed
	live int    // process directories in it
	next int
}

// socketDir creates the directory for one plugin process and returns it
// with the function that removes it. On failure it returns "" (go-plugin
// then uses the plugin's temp dir, as before) and the error, for the log.
func socketDir() (string, func(), error) {
	sockets.mu.Lock()
	defer sockets.mu.Unlock()
	if sockets.dir == "" {
		me, ok := hostDirName(os.Getpid())
		if !ok {
			return "", func() {}, fmt.Errorf("cannot name this process's socket directory")
		}
		removeStaleSocketDirs(os.TempDir())
		dir := filepath.Join(os.TempDir(), me)
		if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
			return "", func() {}, err
		}
		if err := checkOwnDir(dir); err != nil {
			return "", func() {}, err
		}
		sockets.dir = dir
	}
	sockets.next++
	// Short names: a unix socket's path is limited to about 100 bytes.
	dir := filepath.Join(sockets.dir, strconv.Itoa(sockets.next))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", func() {}, err
	}
	sockets.live++
	var once sync.Once
	return dir, func() {
		once.Do(func() {
			sockets.mu.Lock()
			defer sockets.mu.Unlock()
			_ = os.RemoveAll(dir)
			sockets.live--
			if sockets.live == 0 {
				// Nothing runs: leave no empty directory behind either.
				_ = os.Remove(sockets.dir)
				sockets.dir = ""
			}
		})
	}, nil
}

// hostDirName is the socket directory name of the process pid:
// byokcred-sock-<pid>-<start time>, or false if the process does not exist.
func hostDirName(pid int) (string, bool) {
	start, ok := processStart(pid)
	if !ok {
		return "", false
	}
	return socketDirPrefix + strconv.Itoa(pid) + "-" + start, true
}

// removeStaleSocketDirs removes the socket directories in tmp of hosts that
// no longer run. Only directories owned by this user are touched.
func removeStaleSocketDirs(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, socketDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, start, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || !allDigits(start) {
			continue // not one of ours
		}
		if cur, alive := hostDirName(pid); alive && cur == name {
			continue
		}
		path := filepath.Join(tmp, name)
		if checkOwnDir(path) == nil {
			_ = os.RemoveAll(path)
		}
	}
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
