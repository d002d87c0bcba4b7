package registry

import (
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// build puts the registry's token cache (or its per-user caches) around
// what an auth type of a config file, or a program (NewProvider), built:
// the one place a provider's source is made, so both get the same
// refresh-ahead cache, defaults and logs. name is the provider's.
func build(name string, res kind.Result, opts Options) (built, error) {
	b := built{result: res}
	co := opts.Cache
	co.Name, co.Now, co.Logger = name, opts.Now, opts.Logger.With("provider", name)
	if opts.OnFetch != nil {
		co.OnFetch = func(took time.Duration, err error) { opts.OnFetch(name, took, err) }
	}
	if res.PerUser != nil {
		if !opts.PerUser {
			if c, ok := res.Source.(credential.Closer); ok {
				c.Close()
			}
			return built{}, noUserError{}
		}
		if res.Cache != nil {
			res.Cache(&co)
		}
		b.users = newUserCaches(res.PerUser, res.Source, co, opts.MaxUsers)
		b.src = needsUser{}
		return b, nil
	}
	if res.SelfCaching {
		b.src = res.Source
		return b, nil
	}
	// Refresh on a timer: an agent idle for an hour must still find a
	// valid token in hand when it wakes.
	co.Proactive = true
	if res.Cache != nil {
		res.Cache(&co)
	}
	b.cache = credential.NewCache(res.Source, co)
	b.src = b.cache // closing the cache closes the kind's source too
	return b, nil
}

// noUserError refuses a per-user credential in a program that said it has
// no users (Options.PerUser unset). It wraps ErrNeedsUser, so that a caller
// that can supply a user (the CLI's chat) recognises it and says how.
type noUserError struct{}

func (noUserError) Error() string {
	return "this credential acts on behalf of each user, and this program has no user to supply: set registry.Options.PerUser and create each session for its user (session.Factory.SessionConfigFor)"
}

func (noUserError) Unwrap() error { return ErrNeedsUser }

// closer is what closing b releases: the per-user caches (which close the
// kind's source too) or the source (the cache, when there is one).
func (b built) closer() any {
	if b.users != nil {
		return b.users
	}
	return b.src
}
