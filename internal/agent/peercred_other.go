//go:build !linux

package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// peerUID is implemented for Linux only: elsewhere every peer is refused,
// so the agent fails closed.
func peerUID(net.Conn) (int, error) {
	return 0, errors.New("agent: peer credentials are only checked on Linux")
}

// fileOwner is implemented for Linux only: elsewhere no directory or socket
// is trusted, so both ends fail closed.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

// OpenPrivate opens path for the agent's own use; see the Linux version.
// Without O_NOFOLLOW here, a link is refused by Lstat before the open.
func OpenPrivate(path string, flag int) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link: remove it", path)
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
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

func lockFile(path string) (*os.File, error) {
	return OpenPrivate(path, os.O_RDWR|os.O_CREATE)
}

func listenPrivate(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
