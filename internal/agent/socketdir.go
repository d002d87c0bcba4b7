package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUntrusted wraps the refusal of a socket that another user could have
// put there or could answer on: its directory is not ours or not private,
// the socket is not ours, or the process listening runs as another uid.
// Nothing is sent to such a socket and nothing it says is used.
var ErrUntrusted = errors.New("agent: untrusted socket")

// PrepareDir makes dir ready to hold an agent socket: created 0700 when
// missing, then checked as [CheckDir] does. The directory is created with
// Mkdir and checked afterwards, not trusted because MkdirAll succeeded: in
// a shared temporary directory another user may have made it first.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("agent: socket directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("agent: socket directory: %w", err)
	}
	return CheckDir(dir)
}

// CheckDir refuses a socket directory that someone else could write into:
// anything but a directory (a symbolic link included) owned by the effective
// uid with no group or other permission bits, as ssh-agent and tmux require.
// Whoever can write into the directory can delete the socket and listen in
// its place.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("agent: socket directory: %w", err)
	}
	uid, owned := fileOwner(fi)
	what, todo := "", "remove it, or"
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		what = "is a symbolic link"
	case !fi.IsDir():
		what = "is not a directory"
	case !owned:
		what, todo = "has an owner this platform cannot check", ""
	case uid != os.Geteuid():
		// In a sticky temporary directory the user cannot remove it.
		what, todo = fmt.Sprintf("is owned by uid %d, not by this user (uid %d)", uid, os.Geteuid()), ""
	case fi.Mode().Perm()&0o077 != 0:
		what, todo = fmt.Sprintf("has mode %04o: group and others must have no access (0700)", fi.Mode().Perm()), "run chmod 700 on it, or"
	default:
		return nil
	}
	return fmt.Errorf("%w: socket directory %s %s; another user could replace the agent's socket: %s set XDG_RUNTIME_DIR, $%s or --socket to a path in a private directory", ErrUntrusted, dir, what, todo, SocketEnv)
}

// checkOwnFile refuses anything but a regular file owned by the effective
// uid (the agent's lock and log files).
func checkOwnFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s): remove it", path, fi.Mode().Type())
	}
	if uid, ok := fileOwner(fi); !ok || uid != os.Geteuid() {
		return fmt.Errorf("%s is not owned by this user (uid %d): remove it", path, os.Geteuid())
	}
	return nil
}

// checkSocket is the client's check before it dials: the socket and its
// directory are ours. Nothing at path (or no directory) is ErrNoAgent: no
// socket, nothing to trust or distrust, and the agent, when started, checks
// the directory itself.
func checkSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w at %s: %w", ErrNoAgent, path, err)
	}
	// What a directory holds is only as trustworthy as the directory.
	if derr := CheckDir(filepath.Dir(path)); derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("agent: %s is not a socket (%s); remove it or choose another --socket or $%s", path, fileKind(fi), SocketEnv)
	}
	if uid, ok := fileOwner(fi); !ok || uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is not owned by this user (uid %d); remove it", ErrUntrusted, path, os.Geteuid())
	}
	return nil
}

// fileKind names what fi is, for errors.
func fileKind(fi fs.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	default:
		return t.String()
	}
}

// ConfigSocket returns the socket of an agent of config's own, next to
// socket: agent.sock becomes agent-HASH.sock, HASH from the absolute config
// path. It is where `credential` looks, and `--agent start` starts an agent,
// when the agent at socket serves another config.
func ConfigSocket(socket, config string) string {
	sum := sha256.Sum256([]byte(config))
	base := strings.TrimSuffix(filepath.Base(socket), ".sock")
	return filepath.Join(filepath.Dir(socket), base+"-"+hex.EncodeToString(sum[:6])+".sock")
}
