//go:build unix

package cli

import (
	"os/exec"
	"syscall"
)

// detach puts cmd in a session of its own, so that the agent a helper
// starts outlives the helper and the terminal's signals.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
