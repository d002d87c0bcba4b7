package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byokcred/byokcred/plugins/internal/redact"
	"github.com/byokcred/byokcred/plugins/internal/wire"
	"github.com/byokcred/byokcred/plugins/shared"
)

// instance is one plugin entry: at most one live process at a time, started
// on demand and replaced after a crash or a hang.
type instance struct {
	name          string
	cfg           PluginConfig
	cfgErr        error
	checksum      []byte
	log           *slog.Logger
	relay         *relay
	maxRestarts   int
	restartWindow time.Duration

	mu          sync.Mutex
	cur         *process
	starting    *startOp
	starts      []time.Time // process spawns within the restart window
	gen         uint64
	lastFailure string
	closed      bool
	spawned     int64 // processes started over the instance's life, for Stats
}

// process is one running plugin process. gen tells the sources whether
// their Configure was sent to this process or to a predecessor.
type process struct {
	gen    uint64
	client *plugin.Client
	cred   *wire.GRPCClient
	pid    int
	once   sync.Once
	// release removes the process's socket directory once it has ended.
	release func()
}

type startOp struct {
	done chan struct{}
	p    *process
	err  error
}

func newInstance(name string, cfg PluginConfig, log *slog.Logger, maxRestarts int, window time.Duration) *instance {
	sum, err := checkConfig(&cfg)
	return &instance{
		name:          name,
		cfg:           cfg,
		cfgErr:        err,
		checksum:      sum,
		log:           log,
		relay:         newRelay(log),
		maxRestarts:   maxRestarts,
		restartWindow: window,
	}
}

// acquire returns the live process, starting one if there is none. Callers
// that arrive during a start wait for that start; each waits only as long as
// its ctx allows (the start itself goes on, bounded by StartTimeout, for the
// others).
func (i *instance) acquire(ctx context.Context) (*process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil, ErrClosed
	}
	var dead *process
	if p := i.cur; p != nil {
		if !p.client.Exited() && !gone(p.pid) {
			i.mu.Unlock()
			return p, nil
		}
		// It died between calls.
		dead, i.cur = p, nil
		i.lastFailure = fmt.Sprintf("process %d exited between calls", p.pid)
	}
	op := i.starting
	if op == nil {
		now := time.Now()
		if err := i.checkBudget(now); err != nil {
			i.mu.Unlock()
			if dead != nil {
				dead.kill(true)
			}
			return nil, err
		}
		i.starts = append(i.starts, now)
		i.gen++
		op = &startOp{done: make(chan struct{})}
		i.starting = op
		go i.start(op, i.gen)
	}
	i.mu.Unlock()
	if dead != nil {
		i.log.Warn("plugin process exited; starting a new one", "pid", dead.pid)
		dead.kill(true) // reap it and anything it left
	}
	select {
	case <-op.done:
		return op.p, op.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the plugin to start: %w", ctx.Err())
	}
}

// checkBudget refuses a spawn when the restart budget of the window is
// spent. i.mu is held.
func (i *instance) checkBudget(now time.Time) error {
	keep := i.starts[:0]
	for _, t := range i.starts {
		if now.Sub(t) < i.restartWindow {
			keep = append(keep, t)
		}
	}
	i.starts = keep
	// The first start in a window is not a restart.
	if len(i.starts) <= i.maxRestarts {
		return nil
	}
	last := ""
	if i.lastFailure != "" {
		last = "; last failure: " + i.lastFailure
	}
	return fmt.Errorf("%w: started %d times within %s%s; not starting it again before %s",
		ErrRestartLimit, len(i.starts), i.restartWindow, last, i.starts[0].Add(i.restartWindow).Format(time.RFC3339))
}

// start runs in its own goroutine so that waiting callers can give up.
func (i *instance) start(op *startOp, gen uint64) {
	p, spawned, err := i.spawn(gen)
	var orphan *process
	i.mu.Lock()
	i.starting = nil
	if !spawned {
		// Nothing was started (missing binary, bad checksum): not a
		// restart, so give the budget back.
		i.starts = i.starts[:len(i.starts)-1]
	}
	switch {
	case err != nil:
		i.lastFailure = err.Error()
	case i.closed:
		orphan, p, err = p, nil, ErrClosed
	default:
		i.cur = p
	}
	if spawned {
		i.spawned++
	}
	i.mu.Unlock()
	if orphan != nil {
		orphan.kill(false)
	}
	op.p, op.err = p, err
	close(op.done)
}

// spawn checks the binary, starts the process, completes the handshake and
// asks the plugin to describe itself. spawned reports whether a process was
// started at all.
func (i *instance) spawn(gen uint64) (p *process, spawned bool, err error) {
	path, err := i.resolve()
	if err != nil {
		return nil, false, err
	}
	var secure *plugin.SecureConfig
	if i.checksum != nil {
		got, err := fileSHA256(path)
		if err != nil {
			return nil, false, fmt.Errorf("%w: reading %s: %v", ErrBinaryNotFound, path, err)
		}
		if got != hex.EncodeToString(i.checksum) {
			return nil, false, fmt.Errorf("%w: %s has sha256 %s, expected %s; not starting it (rebuild it, or update sha256 if the new binary is trusted)",
				ErrChecksumMismatch, path, got, hex.EncodeToString(i.checksum))
		}
		// go-plugin checks again just before exec; both checks leave a
		// window in which the file could be swapped, so keep plugin
		// binaries where only their owner can write.
		secure = &plugin.SecureConfig{Checksum: i.checksum, Hash: sha256.New()}
	}

	cmd := exec.Command(path, i.cfg.Args...)
	cmd.Env = envList(i.cfg.Env)
	release := func() {}
	if runtime.GOOS != "windows" {
		dir, rel, err := socketDir()
		if err != nil {
			i.log.Debug("no private socket directory for the plugin; go-plugin uses its temp dir", "err", err)
		} else {
			cmd.Env = append(cmd.Env, socketEnv+"="+dir)
			release = rel
		}
	}
	setProcAttr(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          wire.PluginSet(nil),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     i.cfg.StartTimeout,
		Logger:           i.relay.hclogger(),
		// Stderr (a raw copy of the plugin's stderr) stays nil: only the
		// redacting relay sees it. SyncStdout stays nil too (io.Discard).
		SyncStderr: i.relay.stdioWriter(),
	})
	p = &process{gen: gen, client: client, release: release}
	rpc, err := client.Client()
	if id := client.ID(); id != "" {
		p.pid, _ = strconv.Atoi(id)
	}
	if err != nil {
		p.kill(true)
		return nil, true, i.startError(err)
	}
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		p.kill(true)
		return nil, true, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	cred, ok := raw.(*wire.GRPCClient)
	if !ok {
		p.kill(true)
		return nil, true, fmt.Errorf("%w: unexpected client type %T", ErrHandshake, raw)
	}
	p.cred = cred

	// Describe proves that the service answers, and names the plugin in
	// the log.
	ctx, cancel := context.WithTimeout(context.Background(), i.cfg.CallTimeout)
	defer cancel()
	info, err := cred.Describe(ctx)
	if err != nil {
		p.kill(true)
		if ctx.Err() != nil {
			return nil, true, fmt.Errorf("%w: describe did not answer within %s", ErrStartTimeout, i.cfg.CallTimeout)
		}
		return nil, true, fmt.Errorf("%w: describe: %s", ErrHandshake, i.pluginMessage(err))
	}
	i.log.Debug("plugin ready", "pid", p.pid, "name", info.Name, "version", info.Version, "path", path)
	return p, true, nil
}

// resolve finds the binary the way exec.Command would, to report a missing
// one clearly instead of as a failed handshake.
func (i *instance) resolve() (string, error) {
	path := i.cfg.Command
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("%w: %q is not in PATH; give the path of the binary", ErrBinaryNotFound, path)
		}
		return p, nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: %s does not exist; build it or fix the plugin's command", ErrBinaryNotFound, path)
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrBinaryNotFound, err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%w: %s is not an executable file", ErrBinaryNotFound, path)
	}
	return path, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// envList is the plugin's whole environment, sorted for reproducibility.
// go-plugin appends its own handshake variables.
func envList(env map[string]string) []string {
	l := make([]string, 0, len(env))
	for k, v := range env {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return l
}

// startError classifies go-plugin's start errors. One of them quotes the
// plugin's first line of stdout, which could be anything (a token, even),
// so none is passed through verbatim.
func (i *instance) startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: no handshake within %s; the process was killed", ErrStartTimeout, i.cfg.StartTimeout)
	case strings.Contains(msg, "exited before we could connect"),
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("%w: the process exited before completing the handshake (is it a byokcred plugin? its stderr is in the debug log)", ErrHandshake)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return fmt.Errorf("%w: the process printed something other than a go-plugin handshake on stdout (not shown); is it a byokcred plugin?", ErrHandshake)
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w: the plugin speaks another protocol version than this host (%d); rebuild it against this version of byokcred", ErrHandshake, shared.ProtocolVersion)
	case strings.Contains(msg, "unsupported plugin protocol"):
		return fmt.Errorf("%w: the plugin does not speak gRPC; only gRPC plugins are supported", ErrHandshake)
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w: the binary changed after it was checked; not starting it", ErrChecksumMismatch)
	}
	// An exec failure (permission denied, exec format error) or a TLS
	// problem: the message is go-plugin's or the OS's, not the plugin's.
	return fmt.Errorf("%w: %s", ErrHandshake, redact.Truncate(i.relay.redact(msg), 300))
}

// call runs one RPC with CallTimeout on top of ctx and turns its failure
// into a host error, killing the process when it hung or died.
func (i *instance) call(ctx context.Context, p *process, op string, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, i.cfg.CallTimeout)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return nil
	}
	code := status.Code(err)
	// gRPC sends the remaining time to the plugin, whose deadline can pass
	// a moment before ours does: a DeadlineExceeded from the plugin is
	// whichever deadline was the earlier one.
	callerBound := false
	if d, ok := ctx.Deadline(); ok {
		cd, _ := cctx.Deadline()
		callerBound = !d.After(cd)
	}
	if ctx.Err() != nil || code == codes.DeadlineExceeded && callerBound {
		// The caller gave up. The plugin may just be slow, and it serves
		// other providers too, so it is left alone.
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("%s: %w", op, cause)
	}
	switch {
	case cctx.Err() != nil, code == codes.DeadlineExceeded:
		reason := fmt.Sprintf("%s did not return within %s", op, i.cfg.CallTimeout)
		i.discard(p, reason)
		return fmt.Errorf("%w: %s; the process was killed and is restarted on the next call", ErrCallTimeout, reason)
	case code == codes.Unavailable || code == codes.Canceled || p.client.Exited():
		reason := fmt.Sprintf("the process exited during %s", op)
		i.discard(p, reason)
		return fmt.Errorf("%w: %s; it is restarted on the next call", ErrCrashed, reason)
	}
	return fmt.Errorf("%w: %s: %s", ErrPlugin, op, i.pluginMessage(err))
}

// pluginMessage is the plugin's own error text, redacted and bounded: it is
// the one piece of plugin output that reaches an error message.
func (i *instance) pluginMessage(err error) string {
	return redact.Truncate(i.relay.redact(status.Convert(err).Message()), 512)
}

// discard takes p out of service and kills it (with its process group).
func (i *instance) discard(p *process, reason string) {
	i.mu.Lock()
	if i.cur == p {
		i.cur = nil
	}
	i.lastFailure = reason
	i.mu.Unlock()
	i.log.Warn("killing plugin process", "pid", p.pid, "reason", reason)
	p.kill(true)
}

// close stops the live process and any start in progress.
func (i *instance) close() {
	i.mu.Lock()
	i.closed = true
	p, op := i.cur, i.starting
	i.cur = nil
	i.mu.Unlock()
	if p != nil {
		p.kill(false)
	}
	if op != nil {
		// start sees closed and kills what it started.
		<-op.done
	}
}

// kill ends the process and waits for it. force skips go-plugin's graceful
// shutdown (which waits up to 2 s), for a process known to hang or be dead.
// The process group is killed as well, so that nothing the plugin started
// survives it.
func (p *process) kill(force bool) {
	p.once.Do(func() {
		if force {
			killGroup(p.pid)
		}
		p.client.Kill()
		killGroup(p.pid)
		p.release()
	})
}
