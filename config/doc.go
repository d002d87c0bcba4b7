package config

import (
	"errors"
	"fmt"
	"github.com/byokcred/byokcred/internal/closest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
)

// maxNodes bounds the work one document may cause. Aliases make a small file
// describe a huge tree (the "billion laughs" shape); counting every node the
// decoder visits, aliases included, keeps decoding bounded in time and memory.
const maxNodes = 200_000

// Doc is one parsed config file: where each key sits, and every problem found
// so far. Auth types decode their own blocks through the Doc, so their errors
// carry file positions too.
//
// Decoding is strict: a key that matches no field is an error that lists the
// known keys. Struct fields are matched by their `yaml` tag; a field tagged
// `byok:"expand"` has ${VAR} and ${VAR:-default} expanded, as has every
// credential.Secret. A string that does not expand must not hold `${`: it
// would reach an endpoint as the literal text (`tenant_id: ${TENANT}`), so it
// is an error naming the key, unless the field is tagged `byok:"verbatim"`
// (text passed on as written, such as a plugin's arguments). A string
// field tagged `byok:"path"` (or "expand,path") is a file path: a relative
// one is taken relative to the config file's directory, the one rule for
// every path key.
type Doc struct {
	File      string
	LookupEnv func(string) (string, bool)

	pos    map[string]Pos
	errs   ErrorList
	failed map[string]bool
	visits int

	// substituted maps each value a variable contributed to the document to
	// the variable's name, and pathValues lists the values expanded into
	// each key, so that problems are reported with ${NAME} where the value
	// would be: an environment variable may hold a secret, and error text
	// ends up in terminals, logs and CI output.
	substituted map[string]string
	pathValues  map[string][]string
	// spans says which bytes of each expanded value came from which
	// variable, for printing values with those parts hidden.
	spans map[string][]endpoint.Span
	// expandedTotal is what expansion added to the document so far.
	expandedTotal int
	// code is set for a config built in code (Config.Validate): its
	// providers carry their credential instead of an auth block.
	code bool
	// unexpanded holds, by path, the file's text of each value whose
	// expansion failed (an unset variable), for commands that describe a
	// config without its environment.
	unexpanded map[string]string
	// dropped counts the problems beyond MaxProblems, of the file and of
	// the environment.
	dropped, droppedEnv int
}

// MaxExpandedValue bounds one value after ${VAR} expansion: a credential
// is at most 64 KiB everywhere else in byokcred (secret files, store
// answers), and no URL, header or path comes near it.
const MaxExpandedValue = 64 << 10

// MaxExpanded bounds what expansion adds to one document in all (every use
// of a value through a YAML alias counts): as much as MaxFileSize, so a
// config never grows past twice the largest file, however many keys refer
// to a large variable.
const MaxExpanded = MaxFileSize

// MaxProblems bounds the problems kept for one file: a user fixes the first
// ones first, and a generated or aliased file can otherwise yield
// megabytes of them.
const MaxProblems = 100

// Unexpanded returns the file's text of the value at path when its
// ${VAR} expansion failed (the value itself is then empty): what `byokcred
// providers` shows for a base URL or model this environment cannot resolve.
// The text is the file's, never a variable's value.
func (d *Doc) Unexpanded(path string) (string, bool) {
	s, ok := d.unexpanded[path]
	return s, ok
}

// Vars returns which parts of the value at path came from which
// environment variable (nil when none did).
func (d *Doc) Vars(path string) []endpoint.Span {
	return d.spans[path]
}

// spanNames lists the variables of spans as ${A}, ${B}.
func spanNames(spans []endpoint.Span) string {
	var names []string
	for _, sp := range spans {
		ref := "${" + sp.Name + "}"
		if !slices.Contains(names, ref) {
			names = append(names, ref)
		}
	}
	return strings.Join(names, ", ")
}

// minScrubbed is the shortest variable value removed from problems at keys
// other than its own: shorter values cannot be secrets worth hiding, and
// replacing them everywhere would garble messages ("1", "true").
const minScrubbed = 6

// NewDoc returns a Doc for file that resolves variables with lookup.
func NewDoc(file string, lookup func(string) (string, bool)) *Doc {
	return &Doc{File: file, LookupEnv: lookup, pos: map[string]Pos{}, failed: map[string]bool{},
		substituted: map[string]string{}, pathValues: map[string][]string{}, spans: map[string][]endpoint.Span{}, unexpanded: map[string]string{}}
}

// EnvErrorf records a problem of the environment (Error.Environment) at
// path: an unset variable, a missing file.
func (d *Doc) EnvErrorf(path, format string, args ...any) {
	d.Errorf(path, format, args...)
	d.markEnvironment()
}

// markEnvironment marks the problem just recorded as one of the
// environment.
func (d *Doc) markEnvironment() {
	if d.dropped > 0 && len(d.errs) == MaxProblems {
		// It was not kept: count it as dropped of the environment.
		d.dropped--
		d.droppedEnv++
		return
	}
	d.errs[len(d.errs)-1].Environment = true
}

// Errorf records a problem at path's position (or its nearest ancestor's).
// A value that came from an environment variable is shown as ${NAME}. An
// error wrapped with %w stays in the problem's chain (Error.Err), so that a
// caller can recognise it with errors.Is or errors.As.
func (d *Doc) Errorf(path, format string, args ...any) {
	e := fmt.Errorf(format, args...)
	if added := d.add(d.Pos(path), path, e.Error()); added != nil && wraps(e) {
		added.Err = e
	}
}

// Withdraw removes the problems recorded so far for which drop returns
// true: those that another part of the program answers (a provider added
// in code that a models: entry names). Its key stays marked failed.
func (d *Doc) Withdraw(drop func(*Error) bool) {
	// A copy: a list Err returned before must not change under its holder.
	d.errs = slices.DeleteFunc(slices.Clone(d.errs), drop)
}

// wraps reports whether e, made by fmt.Errorf, wrapped an error (%w).
func wraps(e error) bool {
	switch e.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		return true
	}
	return false
}

func (d *Doc) errorAt(n *yaml.Node, path, format string, args ...any) {
	d.add(Pos{n.Line, n.Column}, path, fmt.Sprintf(format, args...))
}

// add records a problem and returns it; nil when it was counted but not
// kept (MaxProblems).
func (d *Doc) add(pos Pos, path, msg string) *Error {
	d.failed[path] = true
	if len(d.errs) >= MaxProblems {
		d.dropped++
		return nil
	}
	e := &Error{File: d.File, Pos: pos, Path: path, Msg: d.scrub(path, suggestEnum(msg))}
	d.errs = append(d.errs, e)
	return e
}

// suggestEnum adds "did you mean" to a misspelled value of a closed set,
// as unknown keys get it. Every such problem, the config's own and each
// auth type's, is worded `unknown KEY "VALUE" (one of: A, B, C)`, so one
// place serves them all.
func suggestEnum(msg string) string {
	rest, ok := strings.CutPrefix(msg, "unknown ")
	if !ok {
		return msg
	}
	i := strings.Index(rest, ` "`)
	if i < 0 {
		return msg
	}
	quoted, err := strconv.QuotedPrefix(rest[i+1:])
	if err != nil {
		return msg
	}
	value, _ := strconv.Unquote(quoted)
	head, tail := rest[:i+1+len(quoted)], rest[i+1+len(quoted):]
	list, ok := strings.CutPrefix(tail, " (one of: ")
	if !ok || !strings.HasSuffix(list, ")") {
		return msg
	}
	s := closest.Name(value, strings.Split(strings.TrimSuffix(list, ")"), ", "))
	if s == "" || s == value {
		return msg
	}
	return fmt.Sprintf("unknown %s; did you mean %q?%s", head, s, tail)
}

// scrub replaces the values variables contributed with ${NAME}: every value
// expanded into path itself, and long values from anywhere else.
func (d *Doc) scrub(path, msg string) string {
	if len(d.substituted) == 0 {
		return msg
	}
	own := map[string]bool{}
	for _, v := range d.pathValues[path] {
		own[v] = true
	}
	return scrubValues(msg, d.substituted, own, false)
}

// Scrubber returns a function that scrubs text about the config blocks at
// paths (and everything under them) the way [Doc.Errorf] scrubs its
// problems, for text that is produced later and elsewhere: a plugin's
// errors about the config it was sent. Values of six bytes or more that
// variables contributed anywhere become ${NAME}; shorter values expanded
// under paths become "${NAME}" where the text quotes them ("v"), since the
// key a message is about is not known and a bare "1" or "5s" is too common
// to replace everywhere. The function sees the Doc as it is now.
func (d *Doc) Scrubber(paths ...string) func(string) string {
	substituted := make(map[string]string, len(d.substituted))
	for v, name := range d.substituted {
		substituted[v] = name
	}
	own := map[string]bool{}
	for path, values := range d.pathValues {
		for _, p := range paths {
			if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
				for _, v := range values {
					own[v] = true
				}
			}
		}
	}
	return func(msg string) string { return scrubValues(msg, substituted, own, true) }
}

// scrubValues replaces in msg the values in substituted (value → variable
// name) with ${NAME}: values of minScrubbed bytes or more everywhere, and
// shorter ones in own everywhere, or with ownQuoted only in their quoted
// form. Longer values go first so that one value containing another is
// replaced whole.
func scrubValues(msg string, substituted map[string]string, own map[string]bool, ownQuoted bool) string {
	if len(substituted) == 0 {
		return msg
	}
	values := make([]string, 0, len(substituted))
	for v := range substituted {
		if len(v) >= minScrubbed || own[v] {
			values = append(values, v)
		}
	}
	sort.Slice(values, func(i, j int) bool {
		if len(values[i]) != len(values[j]) {
			return len(values[i]) > len(values[j])
		}
		return values[i] < values[j]
	})
	for _, v := range values {
		ref := "${" + substituted[v] + "}"
		if len(v) < minScrubbed && ownQuoted {
			msg = strings.ReplaceAll(msg, strconv.Quote(v), strconv.Quote(ref))
			continue
		}
		msg = strings.ReplaceAll(msg, v, ref)
	}
	return msg
}

// Pos returns the position of path, or of its nearest ancestor that has one.
func (d *Doc) Pos(path string) Pos {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return d.pos[""]
		}
		path = path[:i]
	}
}

// Failed reports whether a problem was already recorded at path, so that
// validation does not report a second, derived problem for the same key.
func (d *Doc) Failed(path string) bool { return d.failed[path] }

// Has reports whether the file set path explicitly.
func (d *Doc) Has(path string) bool {
	_, ok := d.pos[path]
	return ok
}

// Err returns the problems found, sorted by position, or nil.
func (d *Doc) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	d.errs.Sort()
	if d.dropped+d.droppedEnv == 0 {
		return d.errs
	}
	// The problems not kept are summed up last, one line for those of the
	// file and one for those of the environment, so that validate
	// --offline, which drops the latter, still fails on the former.
	out := slices.Clone(d.errs)
	if d.dropped > 0 {
		out = append(out, &Error{File: d.File, Msg: fmt.Sprintf("and %d more problems not listed (only the first %d are); fix these first", d.dropped, MaxProblems)})
	}
	if d.droppedEnv > 0 {
		out = append(out, &Error{File: d.File, Environment: true, Msg: fmt.Sprintf("and %d more problems of the environment not listed (only the first %d problems are)", d.droppedEnv, MaxProblems)})
	}
	return out
}

// Decode decodes n into out (a pointer) strictly, recording positions under
// path. Keys listed in skip are ignored in the top mapping (the `type` key of
// an auth block is read by the registry, not by the auth type).
func (d *Doc) Decode(n *yaml.Node, path string, out any, skip ...string) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("config: Decode needs a non-nil pointer")
	}
	d.decode(n, path, v.Elem(), false, skip)
}

var (
	secretType   = reflect.TypeFor[credential.Secret]()
	durationType = reflect.TypeFor[time.Duration]()
	nodePtrType  = reflect.TypeFor[*yaml.Node]()
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *Doc) deref(n *yaml.Node, path string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.visits++
	if d.visits == maxNodes+1 {
		d.Errorf(path, "document is too large or too deeply aliased (more than %d nodes); refusing it", maxNodes)
	}
	return n
}

func (d *Doc) decode(n *yaml.Node, path string, v reflect.Value, expand bool, skip []string) {
	n = d.deref(n, path)
	if n == nil || d.visits > maxNodes {
		return
	}
	// A key's path points at the key, so "missing key" errors on a mapping
	// point at its name; a scalar's path points at the value itself.
	if _, ok := d.pos[path]; !ok || n.Kind == yaml.ScalarNode {
		d.pos[path] = Pos{n.Line, n.Column}
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		d.decode(n.Content[0], path, v, expand, skip)
		return
	}
	if v.Type() == nodePtrType {
		// A raw block (an auth block, decoded later by its auth type): index
		// its positions now so early errors about it can point inside it.
		d.index(n, path)
		v.Set(reflect.ValueOf(n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // leave the zero value
	}
	switch v.Type() {
	case secretType:
		if s, ok := d.scalar(n, path, true); ok {
			v.Set(reflect.ValueOf(credential.NewSecret(s)))
		}
		return
	case durationType:
		if s, ok := d.scalar(n, path, false); ok {
			dur, err := time.ParseDuration(s)
			if err != nil || dur < 0 {
				d.errorAt(n, path, "invalid duration %q; use a positive Go duration such as 30s or 5m", s)
				return
			}
			v.SetInt(int64(dur))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem(), expand, skip)
	case reflect.Struct:
		d.decodeStruct(n, path, v, skip)
	case reflect.Map:
		if !d.want(n, yaml.MappingNode, path, "a mapping") {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.eachPair(n, path, func(key string, kn, vn *yaml.Node) {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(vn, join(path, key), ev, expand, nil)
			v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
		})
	case reflect.Slice:
		if !d.want(n, yaml.SequenceNode, path, "a list") {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, en := range n.Content {
			d.decode(en, fmt.Sprintf("%s[%d]", path, i), s.Index(i), expand, nil)
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, path, expand); ok {
			v.SetString(s)
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(d.decodeAny(n, path)))
	default: // bool, ints, floats
		if !d.want(n, yaml.ScalarNode, path, "a "+v.Kind().String()) {
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errorAt(n, path, "invalid value %q; want a %s", n.Value, v.Kind())
		}
	}
}

func (d *Doc) index(n *yaml.Node, path string) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if v.Kind == yaml.ScalarNode {
			d.pos[p] = Pos{v.Line, v.Column}
		} else {
			d.pos[p] = Pos{k.Line, k.Column}
		}
	}
}

// decodeAny decodes free-form config (a plugin's `config:` map), expanding
// variables in every string.
func (d *Doc) decodeAny(n *yaml.Node, path string) any {
	n = d.deref(n, path)
	if n == nil || d.visits > maxNodes {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		d.eachPair(n, path, func(key string, _, vn *yaml.Node) {
			m[key] = d.decodeAny(vn, join(path, key))
		})
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, en := range n.Content {
			s[i] = d.decodeAny(en, fmt.Sprintf("%s[%d]", path, i))
		}
		return s
	}
	if n.Tag == "!!str" {
		s, _ := d.scalar(n, path, true)
		return s
	}
	var v any
	if err := n.Decode(&v); err != nil {
		d.errorAt(n, path, "invalid value")
	}
	return v
}

func (d *Doc) want(n *yaml.Node, kind yaml.Kind, path, what string) bool {
	if n.Kind != kind {
		d.errorAt(n, path, "want %s, found %s", what, kindName(n))
		return false
	}
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func (d *Doc) scalar(n *yaml.Node, path string, expand bool) (string, bool) {
	if !d.want(n, yaml.ScalarNode, path, "a string") {
		return "", false
	}
	if !expand {
		return n.Value, true
	}
	if d.expandedTotal > MaxExpanded {
		d.failed[path] = true // reported once, where the bound was crossed
		return "", false
	}
	s, spans, err := expandSpans(n.Value, func(name string) (string, bool) {
		v, ok := d.lookup(name)
		if ok && v != "" {
			d.substituted[v] = name
			d.pathValues[path] = append(d.pathValues[path], v)
		}
		return v, ok
	})
	if err == nil && len(spans) > 0 {
		// Only what variables add counts: the file itself is bounded by
		// MaxFileSize, and aliases re-expand a value at every use.
		added := len(s) - len(n.Value)
		d.expandedTotal += max(added, 0)
		switch {
		case d.expandedTotal > MaxExpanded:
			d.errorAt(n, path, "variables (here %s) add more than %d bytes to the file in all, counting every use through an alias; refusing to expand more: check what they hold and how often the file refers to them",
				spanNames(spans), MaxExpanded)
			return "", false
		}
		d.spans[path] = spans
	}
	if err != nil {
		d.unexpanded[path] = n.Value
		d.errorAt(n, path, "%v", err)
		var unset unsetError
		if errors.As(err, &unset) {
			d.markEnvironment()
		}
		return "", false
	}
	return s, true
}

func (d *Doc) lookup(name string) (string, bool) {
	if d.LookupEnv == nil {
		return "", false
	}
	return d.LookupEnv(name)
}

// eachPair walks a mapping, reporting duplicate and non-string keys.
func (d *Doc) eachPair(n *yaml.Node, path string, f func(key string, kn, vn *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := d.deref(n.Content[i], path), n.Content[i+1]
		if kn == nil || kn.Kind != yaml.ScalarNode {
			d.errorAt(n.Content[i], path, "keys must be strings")
			continue
		}
		if line, dup := seen[kn.Value]; dup {
			d.errorAt(kn, join(path, kn.Value), "duplicate key (first set on line %d)", line)
			continue
		}
		seen[kn.Value] = kn.Line
		d.pos[join(path, kn.Value)] = Pos{kn.Line, kn.Column}
		f(kn.Value, kn, vn)
	}
}

type fieldInfo struct {
	index  int
	expand bool
	// verbatim: the value is passed on as written, `${` included.
	verbatim bool
	// path marks a file path: a relative one is taken relative to the
	// config file's directory, so that a config means the same files
	// whichever directory the program runs in.
	path bool
}

func structFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		opts := strings.Split(f.Tag.Get("byok"), ",")
		fields[name] = fieldInfo{index: i, expand: slices.Contains(opts, "expand"), path: slices.Contains(opts, "path"), verbatim: slices.Contains(opts, "verbatim")}
		names = append(names, name)
	}
	sort.Strings(names)
	return fields, names
}

func (d *Doc) decodeStruct(n *yaml.Node, path string, v reflect.Value, skip []string) {
	if !d.want(n, yaml.MappingNode, path, "a mapping") {
		return
	}
	fields, names := structFields(v.Type())
	d.eachPair(n, path, func(key string, kn, vn *yaml.Node) {
		for _, s := range skip {
			if key == s {
				return
			}
		}
		f, ok := fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := closest.Name(key, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
				// The key meant is reported with this error: a "missing
				// key" for it would be a follow-on, not a second problem.
				d.failed[join(path, s)] = true
			}
			d.errorAt(kn, join(path, key), "%s (known keys: %s)", msg, strings.Join(names, ", "))
			return
		}
		fv := v.Field(f.index)
		d.decode(vn, join(path, key), fv, f.expand, nil)
		if !f.expand && !f.verbatim {
			d.refuseUnexpanded(vn, join(path, key), key, fv)
		}
		if f.path && fv.Kind() == reflect.String {
			fv.SetString(d.resolvePath(fv.String()))
		}
	})
}

// refuseUnexpanded reports a `${` in a string (or list of strings) at a key
// that does not expand: the text would be sent as it is, and a user who
// writes ${VAR} means the variable's value. The value is cleared so that
// checks of it do not report a second problem.
func (d *Doc) refuseUnexpanded(n *yaml.Node, path, key string, v reflect.Value) {
	switch {
	case v.Kind() == reflect.String:
		if strings.Contains(v.String(), "${") {
			for n.Kind == yaml.AliasNode && n.Alias != nil {
				n = n.Alias
			}
			d.errorAt(n, path, "%s does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)", key)
			v.SetString("")
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		for i := 0; i < v.Len(); i++ {
			if strings.Contains(v.Index(i).String(), "${") {
				at := fmt.Sprintf("%s[%d]", path, i)
				d.Errorf(at, "%s does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)", key)
				v.Index(i).SetString("")
			}
		}
	}
}

// resolvePath takes a relative path relative to the config file's
// directory.
func (d *Doc) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) || d.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(d.File), p)
}
