package credential

import "context"

// TokenSourceFunc adapts a function to a TokenSource, as http.HandlerFunc
// adapts one to a Handler: a program that already knows how to get its
// credential (from its own database, a vault client, an SDK call) hands
// that to byokcred without declaring a type. Put it behind [NewCache] (the
// registry does, for a code-built provider) so that it is called once per
// token lifetime rather than once per model request; set Token.Expiry so
// that the cache refreshes ahead of it.
type TokenSourceFunc func(ctx context.Context) (*Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }
