//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
)

// setProcessGroup runs the command in a process group of its own and makes
// cancellation kill the whole group, so that a timed-out `sh -c 'vault …'`
// does not leave the real command running behind the shell.
func setProcessGroup(cmd *osexec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		// Negative pid: the group whose id is the command's pid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
