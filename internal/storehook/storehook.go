// Package storehook lets tests point the secret-store modules at loopback
// fakes. It is internal, so a library user cannot reach it, and no config
// key sets it: production always talks to the real stores with every check
// on. (Secrets Manager needs no hook: the AWS SDK's own
// AWS_ENDPOINT_URL_SECRETS_MANAGER redirects it.)
package storehook

import (
	"net/http"
	"sync/atomic"
	"time"
)

// KeyVault overrides azsecrets client options.
type KeyVault struct {
	// Client trusts the fake vault's test CA.
	Client *http.Client
	// DisableChallengeResourceVerification lets a vault at 127.0.0.1
	// answer a challenge for https://vault.azure.net.
	DisableChallengeResourceVerification bool
	// RetryDelay, when set, replaces azcore's first retry delay (800ms), so
	// that a test of an outage sees the SDK's own retries without waiting
	// seconds for them.
	RetryDelay time.Duration
}

// Google overrides where Secret Manager is reached.
type Google struct {
	// Endpoint replaces https://secretmanager.googleapis.com (and the
	// regional endpoints), e.g. http://127.0.0.1:PORT.
	Endpoint string
	// Client, when set, carries the requests (before authorization).
	Client *http.Client
}

var (
	keyVault atomic.Pointer[KeyVault]
	google   atomic.Pointer[Google]
)

type cleanup interface{ Cleanup(func()) }

// SetKeyVault installs o until the test ends.
func SetKeyVault(t cleanup, o KeyVault) {
	keyVault.Store(&o)
	t.Cleanup(func() { keyVault.Store(nil) })
}

// KeyVaultOverride returns the override in force, or nil.
func KeyVaultOverride() *KeyVault { return keyVault.Load() }

// SetGoogle installs o until the test ends.
func SetGoogle(t cleanup, o Google) {
	google.Store(&o)
	t.Cleanup(func() { google.Store(nil) })
}

// GoogleOverride returns the override in force, or nil.
func GoogleOverride() *Google { return google.Load() }
