package exec

import (
	osexec "os/exec"
	"sync"
)

// commands tracks the commands that are running, so that the sweep for
// processes they left behind (see [Supervise]) never touches a running one.
var commands struct {
	mu          sync.Mutex
	running     map[int]bool
	supervising bool
}

// startTracked starts cmd and records it as running. The lock is held
// across the fork, so that a concurrent sweep cannot see the new child
// before it is recorded and take it for an orphan.
func startTracked(cmd *osexec.Cmd) error {
	commands.mu.Lock()
	defer commands.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	if commands.running == nil {
		commands.running = map[int]bool{}
	}
	commands.running[cmd.Process.Pid] = true
	return nil
}

// untrack records that the command pid has exited and been reaped.
func untrack(pid int) {
	commands.mu.Lock()
	delete(commands.running, pid)
	commands.mu.Unlock()
}

// sweepOrphans kills and reaps the processes that commands left behind and
// that were reparented to this process, when it supervises them.
func sweepOrphans() {
	commands.mu.Lock()
	defer commands.mu.Unlock()
	if commands.supervising {
		killOrphans(commands.running, false)
	}
}

// KillDescendants kills every command that is still running, with its
// process group, and (on Linux, after [Supervise]) every process the
// commands left behind. The plugin's main calls it when the host has
// stopped the plugin, so that nothing the plugin started outlives it.
func KillDescendants() {
	commands.mu.Lock()
	defer commands.mu.Unlock()
	for pid := range commands.running {
		killGroup(pid)
	}
	if commands.supervising {
		killOrphans(commands.running, true)
	}
}
