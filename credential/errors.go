package credential

import "time"

// TokenError is the error of a failed token request: what a [Cache] and
// the registry's providers return, so that a caller can tell which
// provider failed and when to try again with errors.As instead of reading
// the message:
//
//	var te *credential.TokenError
//	if errors.As(err, &te) && !te.Retry.IsZero() {
//		// te.Provider is down; its next attempt is due at te.Retry
//	}
//
// The cause stays in the chain (Unwrap): errors.Is still matches
// context.DeadlineExceeded, a kind's sentinels and whatever the source
// wrapped. The message names the provider once:
//
//	provider NAME: OP: CAUSE (next attempt in 1.5s)
//
// A cause whose own message names the provider too (a [ProviderNamingError],
// such as the plugin host's) is shown without it.
type TokenError struct {
	// Provider is the provider whose credential failed (a Cache's
	// CacheOptions.Name); "" when unnamed.
	Provider string
	// Kind is the provider's auth type (`auth.type`: "entra", "plugin",
	// ...); "" where it is not known, as in a Cache used on its own.
	Kind string
	// Op says what failed, in words ("no token", "token expired at … and
	// refresh failed", "waiting for a token"); it may be "".
	Op string
	// Err is the cause; nil when Op says it all.
	Err error
	// Retry is when the next attempt to fetch is due (the cache's
	// backoff); zero when not known. Asking before then gets this error
	// again without a fetch.
	Retry time.Time

	// retryIn is Retry as a duration from when the error was made, shown
	// in the message when the error was answered from the backoff.
	retryIn time.Duration
}

// ProviderNamingError is implemented by errors whose message names the
// provider they are about, for callers that use their package alone (the
// plugin host's does). A [TokenError] names the provider itself and shows
// such a cause by ErrorWithoutProvider, so the name appears once.
type ProviderNamingError interface {
	error
	// ErrorWithoutProvider is the message without the provider's name.
	ErrorWithoutProvider() string
}

func (e *TokenError) Error() string {
	msg := "provider"
	if e.Provider != "" {
		msg += " " + e.Provider
	}
	if e.Op != "" {
		msg += ": " + e.Op
	}
	if e.Err != nil {
		var cause string
		if n, ok := e.Err.(ProviderNamingError); ok {
			cause = n.ErrorWithoutProvider()
		} else {
			cause = e.Err.Error()
		}
		msg += ": " + cause
	}
	if e.retryIn > 0 {
		msg += " (next attempt in " + e.retryIn.Round(time.Millisecond).String() + ")"
	}
	return msg
}

func (e *TokenError) Unwrap() error { return e.Err }
