package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"syscall"
)

// peerUID returns the uid of the process at the other end of conn, as the
// kernel recorded it at connect time (SO_PEERCRED): a peer cannot lie
// about it. On the client's side it is the uid that called listen(2).
func peerUID(conn net.Conn) (int, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return int(cred.Uid), nil
}

// fileOwner returns the uid owning the file fi describes.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// OpenPrivate opens path (created 0600) for the agent's own use, without
// following a symbolic link and without blocking on a FIFO, and refuses
// anything but a regular file of ours: a link planted at the lock or log
// path must not make the agent create, lock or append to another file.
func OpenPrivate(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link: remove it", path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkOwnFile(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockFile takes an exclusive, non-blocking lock on path (created 0600).
// The kernel drops it when the process dies, so a killed agent leaves no
// stale lock.
func lockFile(path string) (*os.File, error) {
	f, err := OpenPrivate(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// umaskMu serialises listenPrivate's umask changes: the umask is the
// process's, and two Listens restoring each other's would leak a 0022.
var umaskMu sync.Mutex

// listenPrivate listens on a unix socket created 0600. The mode is set by
// the umask at bind time, not by a chmod of the path afterwards, which would
// follow whatever the path names by then. Files other goroutines create
// meanwhile get no group or other bits: stricter, never looser.
func listenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
