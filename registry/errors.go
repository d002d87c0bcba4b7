package registry

import "errors"

// ErrUnknownProvider is wrapped by the error of Set.Provider when no
// provider has the name asked for: match it with errors.Is (the CLI shows
// it as a usage error). The message lists the configured names.
var ErrUnknownProvider = errors.New("unknown provider")
