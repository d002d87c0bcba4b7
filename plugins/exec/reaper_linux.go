package exec

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Supervise makes the exec plugin's process responsible for everything its
// commands start, so that no process a command starts outlives the plugin,
// and the plugin outlives nothing of byokcred's:
//
//   - It becomes a child subreaper (PR_SET_CHILD_SUBREAPER): a process
//     whose parent exits is reparented to the plugin instead of to init.
//     After every run, every child of the plugin that is not a running
//     command is such a leftover (a daemon that left the command's process
//     group with setsid, say) and is killed.
//   - Its parent-death signal becomes SIGTERM instead of the SIGKILL that
//     the host sets, and SIGTERM kills every command's process group and
//     every leftover before the plugin exits. With SIGKILL, a dying host
//     took the plugin and (by their own parent-death signal) its commands
//     along, but not what the commands had started.
//
// Call it from an init function of the plugin's main package: the kernel
// keeps the parent-death signal per thread and fires the one of the thread
// that the host started, the main thread, which is where init functions run
// (main itself may run on another thread).
func Supervise() {
	ppid := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return // an old kernel: per-run group kills still apply
	}
	commands.mu.Lock()
	commands.supervising = true
	commands.mu.Unlock()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		KillDescendants()
		os.Exit(1)
	}()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return
	}
	if os.Getppid() != ppid {
		// The parent died before the new signal was in place.
		KillDescendants()
		os.Exit(1)
	}
}

// waitExited blocks until the process pid has exited, leaving it unreaped
// (a zombie), so that its pid stays taken. It reports false if it could not
// wait (the caller then falls back to killing after reaping).
func waitExited(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil
	}
}

// killOrphans kills the children of this process that are not running
// commands (all of them when exiting) with their process groups, and reaps
// them; their own children are then reparented here, so it repeats until
// none is left (bounded, in case something keeps forking). The caller holds
// commands.mu. Running commands are never reaped here: os/exec waits for
// them.
func killOrphans(running map[int]bool, exiting bool) {
	self := os.Getpid()
	for round := 0; round < 100; round++ {
		var reap []int
		live := false
		for _, c := range children(self) {
			if running[c.pid] {
				if exiting && c.state != 'Z' {
					live = true
					killGroup(c.pid)
				}
				continue // os/exec reaps it
			}
			if c.state != 'Z' {
				live = true
				killGroup(c.pid) // a daemon's own group, if it made one
				_ = syscall.Kill(c.pid, syscall.SIGKILL)
			}
			reap = append(reap, c.pid)
		}
		for _, pid := range reap {
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(pid, &ws, 0, nil); !errors.Is(err, syscall.EINTR) {
					break
				}
			}
		}
		if !live {
			return
		}
		if len(reap) == 0 {
			// Only killed commands are left, not dead yet: once they
			// are, what they started is reparented here.
			time.Sleep(5 * time.Millisecond)
		}
	}
}

type child struct {
	pid   int
	state byte
}

// children lists the processes whose parent is ppid, from /proc.
func children(ppid int) []child {
	entries, _ := os.ReadDir("/proc")
	var out []child
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(b)
		i := strings.LastIndexByte(rest, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(rest[i+1:])
		if len(f) < 2 {
			continue
		}
		if p, err := strconv.Atoi(f[1]); err == nil && p == ppid {
			out = append(out, child{pid: pid, state: f[0][0]})
		}
	}
	return out
}
