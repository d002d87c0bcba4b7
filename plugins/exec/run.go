package exec

import (
	"context"
	"io"
	"os"
	osexec "os/exec"
	"time"
)

// run runs the command once and returns what it printed. Whatever the
// outcome, nothing the command started is left running afterwards: its
// process group is killed once the command itself has exited (or at the
// timeout), and on Linux, in a plugin process that called [Supervise],
// processes that left the group are killed too.
//
// The pipes are plain files handed to the command, not writers that os/exec
// copies from: os/exec would wait until every holder of a pipe closed it, so
// a background process holding stdout would hold up the run until the
// WaitDelay and then turn it into "WaitDelay expired before I/O complete".
// Here the end of the command is the end of the run; stdoutOpen reports
// that something it left behind still held stdout at that point.
func (s *Source) run(ctx context.Context) (stdout, stderr *capBuffer, stdoutOpen bool, err error) {
	stdout = &capBuffer{max: maxStdout}
	stderr = &capBuffer{max: maxStderr}
	outR, outW, err := os.Pipe()
	if err != nil {
		return stdout, stderr, false, err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return stdout, stderr, false, err
	}
	defer errR.Close()

	cmd := osexec.CommandContext(ctx, s.path, s.opts.Args...)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)
	err = startTracked(cmd)
	// The command has its copies; ours would keep the pipes open forever.
	outW.Close()
	errW.Close()
	if err != nil {
		return stdout, stderr, false, err
	}
	outDone, errDone := drain(outR, stdout), drain(errR, stderr)

	pid := cmd.Process.Pid
	// On Linux, wait for the command to exit without reaping it, so that
	// its pid, which is also its process group's id, cannot be reused
	// while the group is killed below.
	exitedUnreaped := waitExited(pid)
	if exitedUnreaped {
		stdoutOpen = !doneWithin(outDone, pipeGrace)
		killGroup(pid)
	}
	err = cmd.Wait()
	if !exitedUnreaped {
		stdoutOpen = !doneWithin(outDone, pipeGrace)
		killGroup(pid)
	}
	untrack(pid)
	sweepOrphans()

	// A process that left the group (setsid) and escaped the sweep may
	// still hold a pipe: stop reading rather than wait for it.
	deadline := time.Now().Add(pipeGrace)
	outR.SetReadDeadline(deadline)
	errR.SetReadDeadline(deadline)
	<-outDone
	<-errDone
	return stdout, stderr, stdoutOpen, err
}

// drain copies r into buf until end of file (or r's deadline) and closes the
// returned channel.
func drain(r io.Reader, buf *capBuffer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(buf, r)
	}()
	return done
}

func doneWithin(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
