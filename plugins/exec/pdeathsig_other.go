//go:build unix && !linux

package exec

import "syscall"

// setParentDeathSignal is Linux-only; elsewhere a command whose plugin died
// runs to its own end (its timeout is still bounded by the plugin's).
func setParentDeathSignal(*syscall.SysProcAttr) {}
