// Package kindhost is the registry's side of a kind.Build: the state a
// build carries that kinds use but must not be able to make up (the set's
// shared values). Only this module can import it, so only the registry can
// make a Build that reaches a set.
package kindhost

// Host is what a kind.Build asks of the load that made it.
type Host interface {
	// Shared returns the value stored under key in the set being built,
	// creating it with create on first use.
	Shared(key string, create func() any) any
	// Config is the whole file being loaded, a *config.Config (any:
	// kindhost links nothing): the Build's helpers report problems into its
	// Doc and read its plugins section.
	Config() any
}

// NewBuild returns a new *kind.Build bound to h, with its exported fields
// zero for the caller to fill in. Package kind sets it in its init, so it is
// set whenever a program can reach a Build. Its result is typed any because
// kindhost cannot name kind.Build: kind imports kindhost.
var NewBuild func(h Host) any
