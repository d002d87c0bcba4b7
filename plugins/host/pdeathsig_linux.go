package host

import "syscall"

// setParentDeathSignal makes the kernel SIGKILL the plugin when the host
// dies, so that a host that crashes (and never runs Manager.Close) leaves no
// plugin behind. Strictly the signal follows the OS thread that started the
// plugin; the Go runtime ends a thread only when a goroutine locked to it
// exits, which the host's code paths do not do — and if it ever happened,
// the plugin would be restarted on the next call like after a crash.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
