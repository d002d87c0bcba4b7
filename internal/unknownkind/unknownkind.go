// Package unknownkind words the errors for a config that names an auth type
// or a secret store the program has not registered, or names none, so that
// all say the same thing: what is known, and which import registers the
// rest.
//
// It sits below the registry and auth/static (which report the error) and
// package builtin (which says it is linked): builtin imports both, so
// neither can import builtin to ask.
package unknownkind

//go:generate go run ./genbuiltins

import (
	"fmt"
	"github.com/byokcred/byokcred/internal/closest"
	"strings"
	"sync/atomic"
)

// Builtin is the import path of the package that registers every built-in
// credential kind and secret store.
const Builtin = "github.com/byokcred/byokcred/builtin"

// builtinLinked is set once, from package builtin's init, before main runs.
var builtinLinked atomic.Bool

// BuiltinsLinked records that package builtin is linked, so every built-in
// kind and store is registered and the error need not name the import.
// Only package builtin calls it.
func BuiltinsLinked() { builtinLinked.Store(true) }

// Error is the error for name, an unregistered `what` (such as "auth type";
// whats is its plural), given the names that are registered.
func Error(what, whats, name string, known []string) error {
	return message(what, whats, name, known, builtinLinked.Load())
}

func message(what, whats, name string, known []string, builtinLinked bool) error {
	pkg, builtIn := BuiltinPackage(name)
	switch {
	case builtIn && !builtinLinked:
		// A library program that did not import this built-in one: name
		// its package, whatever else it registered.
		registered := fmt.Sprintf("no %s are registered in this program", whats)
		if len(known) > 0 {
			registered = "known: " + strings.Join(known, ", ")
		}
		return fmt.Errorf("unknown %s %q (%s): it is built in; register it with import _ %q (or every built-in one with import _ %q)", what, name, registered, pkg, Builtin)
	case len(known) == 0:
		// A library program that imported none.
		return fmt.Errorf("unknown %s %q: no %s are registered in this program; import the packages of the ones it uses, or every built-in one with import _ %q", what, name, whats, Builtin)
	case !builtinLinked:
		// A library program that imported some: the one it lacks may be
		// a built-in one.
		return fmt.Errorf("unknown %s %q%s (known: %s; every built-in one is registered by import _ %q)", what, name, didYouMean(name, known), strings.Join(known, ", "), Builtin)
	default:
		// The stock byokcred or a custom build: every built-in one is
		// known, so an import would not help.
		return fmt.Errorf("unknown %s %q%s (known: %s)", what, name, didYouMean(name, known), strings.Join(known, ", "))
	}
}

// BuiltinPackage returns the package that registers the built-in
// credential kind or secret store name. The answer is generated from what
// package builtin links (genbuiltins, run by make schema; CI's drift check
// fails when it is stale), so builtin's imports stay the one list. A
// switch, not a map: it is read only for an error, and costs a program's
// start nothing.
func BuiltinPackage(name string) (string, bool) { return builtinPackage(name) }

// didYouMean returns `; did you mean "X"?` for the known name one or two
// edits from name (or that name begins), as the config's unknown keys get it, or "".
func didYouMean(name string, known []string) string {
	best := closest.Name(name, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// Missing is the error for a block without its key naming the kind (such
// as "type"): listed introduces the registered names ("known auth types").
// With none registered, the list would be empty; it says what to import
// instead.
func Missing(key, whats, listed string, known []string) error {
	if len(known) == 0 {
		return fmt.Errorf("missing key %q: no %s are registered in this program; import the packages of the ones it uses, or every built-in one with import _ %q", key, whats, Builtin)
	}
	return fmt.Errorf("missing key %q (%s: %s)", key, listed, strings.Join(known, ", "))
}
