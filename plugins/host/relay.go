package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byokcred/byokcred/plugins/internal/redact"
)

// The relay carries a plugin's log output to the host's *slog.Logger, at
// debug level, with the attribute plugin=<name>.
//
// What reaches it:
//   - the plugin's stderr, which go-plugin parses (hclog JSON lines keep
//     their message and key/value pairs) and hands to an hclog logger whose
//     output is the relay;
//   - what the plugin writes to os.Stderr after Serve, which go-plugin
//     streams over its stdio service;
//   - go-plugin's own messages about the process (started, exited).
//
// A plugin's stdout never reaches it: its first line is the handshake and
// go-plugin discards the rest (and its post-Serve stdout goes to io.Discard).
//
// Redaction: every line is passed through redact.Redact with the tokens that
// the plugin has returned recently, and JWT-, header- and credential-shaped
// text (a known prefix such as sk- or AKIA, a long run of mixed letters and
// digits or of hex: a secret file a command copied to stderr). A
// plugin that logs a token while computing it would print it before the
// host has seen it; so while any GetToken call to the plugin is in flight,
// lines are held back and released, redacted, when the calls have returned
// and their tokens are known. Calls are bounded by CallTimeout, so lines are
// held at most that long.
//
// Logging happens on a goroutine of its own, never under mu and never on
// the plugin's output path or a token call's: a slow log sink must not stall
// the plugin (whose stderr pipe would fill) or a model request. Lines wait in
// a bounded queue; past it they are counted and reported as dropped.
//
// Bounds: a message or attribute is cut at maxLine bytes, and at most
// perMinute lines a minute are relayed; the rest are counted, and the count
// is reported when the next minute's first line arrives. A plugin's
// diagnostics are a few lines per call: a flood is a plugin dumping a file
// or a loop, and what it dumps is what may hold a secret no one named.
type relay struct {
	log       *slog.Logger
	now       func() time.Time
	perMinute int

	mu       sync.Mutex
	idle     *sync.Cond // signalled when the emitter has nothing left to log
	inflight int
	held     []logLine
	queue    []queued // lines waiting for the emitter
	emitting bool     // an emitter goroutine is running
	dropped  int
	secrets  []string // most recent last
	partial  []byte   // an unfinished line from the hclog writer
	stdpart  []byte   // an unfinished line from the stdio stream

	window     time.Time // start of the current minute of the line budget
	inWindow   int       // lines relayed in it
	overBudget int       // lines dropped in it for the budget
}

const (
	// maxHeld bounds the lines kept while calls are in flight.
	maxHeld = 1000
	// maxSecrets is how many recent token values are redacted.
	maxSecrets = 32
	// maxLine bounds one relayed message or attribute: diagnostics are
	// short, and a long line is more likely a dumped document.
	maxLine = 1 << 10
	// linesPerMinute is the default line budget.
	linesPerMinute = 120
)

type logLine struct {
	msg   string
	attrs []slog.Attr
}

// queued is a line with the secrets known when it was released.
type queued struct {
	line    logLine
	secrets []string
}

func newRelay(log *slog.Logger) *relay {
	r := &relay{log: log, now: time.Now, perMinute: linesPerMinute}
	r.idle = sync.NewCond(&r.mu)
	return r
}

// hclogger is the logger handed to go-plugin: JSON lines into the relay.
// It passes everything; the host logger's level (which may change at run
// time) decides what is kept.
func (r *relay) hclogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Trace,
		Output:     hclogWriter{r},
		JSONFormat: true,
	})
}

// stdioWriter receives the plugin's post-Serve os.Stderr.
func (r *relay) stdioWriter() io.Writer { return stdioWriter{r} }

// begin marks a GetToken call in flight.
func (r *relay) begin() {
	r.mu.Lock()
	r.inflight++
	r.mu.Unlock()
}

// end marks it done, remembers the secrets of the call (the value it
// returned, the user's token it was sent) and releases held lines once no
// call is in flight.
func (r *relay) end(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, value := range values {
		if value != "" {
			r.remember(value)
		}
	}
	r.inflight--
	if r.inflight > 0 {
		return
	}
	held := r.held
	r.held = nil
	for _, l := range held {
		r.sendLocked(l)
	}
	r.reportDroppedLocked()
}

// reportDroppedLocked queues a note of the lines dropped so far, if any;
// r.mu is held.
func (r *relay) reportDroppedLocked() {
	if r.dropped == 0 || r.inflight > 0 {
		return
	}
	n := r.dropped
	r.dropped = 0
	r.queue = append(r.queue, queued{line: logLine{msg: fmt.Sprintf("dropped %d plugin log lines written during a long call or while the log was slow", n)}})
	if !r.emitting {
		r.emitting = true
		go r.drain()
	}
}

func (r *relay) remember(v string) {
	for _, s := range r.secrets {
		if s == v {
			return
		}
	}
	if len(r.secrets) == maxSecrets {
		r.secrets = r.secrets[1:]
	}
	r.secrets = append(r.secrets, v)
}

// redact applies the known secrets; for text headed elsewhere (errors).
func (r *relay) redact(s string) string {
	r.mu.Lock()
	secrets := append([]string(nil), r.secrets...)
	r.mu.Unlock()
	return redact.Redact(s, secrets...)
}

func (r *relay) line(l logLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.budgetLocked() {
		return
	}
	if r.inflight > 0 {
		if len(r.held) >= maxHeld {
			r.dropped++
			return
		}
		r.held = append(r.held, l)
		return
	}
	r.sendLocked(l)
}

// budgetLocked counts a line against the minute's budget and reports
// whether it may be relayed; at a new minute it first queues the count of
// the lines the last one dropped. r.mu is held.
func (r *relay) budgetLocked() bool {
	now := r.now()
	if now.Sub(r.window) >= time.Minute || now.Before(r.window) {
		if r.overBudget > 0 {
			r.sendLocked(logLine{msg: fmt.Sprintf("dropped %d plugin log lines: more than %d in a minute", r.overBudget, r.perMinute)})
		}
		r.window, r.inWindow, r.overBudget = now, 0, 0
	}
	if r.inWindow >= r.perMinute {
		r.overBudget++
		return false
	}
	r.inWindow++
	return true
}

// sendLocked queues l for the emitter, with the secrets known now, and
// starts the emitter if none runs; r.mu is held.
func (r *relay) sendLocked(l logLine) {
	if len(r.queue) >= maxHeld {
		r.dropped++
		return
	}
	r.queue = append(r.queue, queued{line: l, secrets: append([]string(nil), r.secrets...)})
	if !r.emitting {
		r.emitting = true
		go r.drain()
	}
}

// drain logs the queue until it is empty, outside r.mu.
func (r *relay) drain() {
	r.mu.Lock()
	for len(r.queue) > 0 {
		batch := r.queue
		r.queue = nil
		r.mu.Unlock()
		for _, q := range batch {
			r.emit(q.line, q.secrets)
		}
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.reportDroppedLocked() // lines dropped while the log was slow
		}
	}
	r.emitting = false
	r.idle.Broadcast()
	r.mu.Unlock()
}

// flush waits until every released line has been logged.
func (r *relay) flush() {
	r.mu.Lock()
	for r.emitting {
		r.idle.Wait()
	}
	r.mu.Unlock()
}

// emit redacts and logs one line.
func (r *relay) emit(l logLine, secrets []string) {
	if !r.log.Enabled(context.Background(), slog.LevelDebug) {
		return // skip the redaction work
	}
	attrs := make([]slog.Attr, 0, len(l.attrs))
	for _, a := range l.attrs {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(redact.Truncate(redact.Redact(a.Value.String(), secrets...), maxLine))
		}
		attrs = append(attrs, a)
	}
	msg := redact.Truncate(redact.Redact(l.msg, secrets...), maxLine)
	r.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}

// splitLines appends p to *part and returns the complete lines.
func splitLines(part *[]byte, p []byte) []string {
	*part = append(*part, p...)
	var lines []string
	for {
		i := bytes.IndexByte(*part, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string((*part)[:i]))
		*part = (*part)[i+1:]
	}
	if len(*part) > maxLine {
		// A runaway line without a newline: relay what there is.
		lines = append(lines, string(*part))
		*part = nil
	}
	return lines
}

// hclogWriter parses the hclog JSON lines that go-plugin's logger writes.
type hclogWriter struct{ r *relay }

func (w hclogWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	lines := splitLines(&w.r.partial, p)
	w.r.mu.Unlock()
	for _, s := range lines {
		w.r.line(parseHclogLine(s))
	}
	return len(p), nil
}

// parseHclogLine turns one hclog JSON line into a message and attributes.
// go-plugin names the logger after the plugin binary ("plugin.<binary>"),
// kept as attribute module; the plugin's own level is kept as plugin_level.
func parseHclogLine(s string) logLine {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return logLine{msg: s}
	}
	l := logLine{}
	l.msg, _ = m["@message"].(string)
	if mod, ok := m["@module"].(string); ok && mod != "" {
		l.attrs = append(l.attrs, slog.String("module", mod))
	}
	if lv, ok := m["@level"].(string); ok && lv != "" {
		l.attrs = append(l.attrs, slog.String("plugin_level", lv))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, "@") || k == "timestamp" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// Keep the host's own attributes unambiguous: go-plugin logs the
		// binary's path as "plugin".
		name := k
		switch k {
		case "plugin":
			name = "binary"
		case "module", "plugin_level", "binary":
			name = "attr_" + k
		}
		l.attrs = append(l.attrs, slog.String(name, flatten(m[k])))
	}
	return l
}

// flatten renders a value as text, so that redaction sees all of it.
func flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// stdioWriter relays the plugin's post-Serve os.Stderr, line by line.
type stdioWriter struct{ r *relay }

func (w stdioWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	lines := splitLines(&w.r.stdpart, p)
	w.r.mu.Unlock()
	for _, s := range lines {
		w.r.line(logLine{msg: s, attrs: []slog.Attr{slog.String("stream", "stderr")}})
	}
	return len(p), nil
}
