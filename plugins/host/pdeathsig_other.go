//go:build unix && !linux

package host

import "syscall"

// setParentDeathSignal is Linux-only. Elsewhere a plugin outlives a host
// that crashed until it notices its closed connection.
func setParentDeathSignal(*syscall.SysProcAttr) {}
