//go:build !unix

package exec

import osexec "os/exec"

// setProcessGroup: without process groups, cancellation kills the command
// only (os/exec's default).
func setProcessGroup(*osexec.Cmd) {}

// killGroup: no process groups here.
func killGroup(int) {}
