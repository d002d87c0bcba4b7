//go:build !linux

package agent

import (
	"errors"
	"net"
	"os"
)

// peerUID is implemented for Linux only: elsewhere every peer is refused,
// so the agent fails closed.
func peerUID(net.Conn) (int, error) {
	return 0, errors.New("agent: peer credentials are only checked on Linux")
}

func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
