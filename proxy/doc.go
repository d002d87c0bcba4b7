// Package proxy is byokcred's credential-injecting gateway: an HTTP reverse
// proxy, normally on loopback, that forwards each model request to a
// configured provider with that provider's current credential.
//
// It serves clients that are not the Go SDK and cannot call a token
// callback: the interactive Copilot CLI reads its BYOK key once at start, so
// an Entra ID token given to it dies about an hour into a conversation.
// Pointed at the proxy instead, such a client keeps a fixed address (and, if
// configured, a fixed client token), while the proxy puts a currently valid
// credential on every request.
//
// A request to /PROVIDER/REST goes to PROVIDER's base_url + /REST, query
// kept. [Options.Default] also serves paths without a provider prefix. The
// client's own credential headers are removed and the provider's credential
// is set in the header its type expects (see [config.CredentialHeader]), along
// with the provider's configured headers. Responses stream through
// unbuffered. When the upstream answers 401, the rejected token is dropped
// from the provider's cache and the request is sent once more with a fresh
// token, if its body could be kept for replay. When the fresh token is
// refused as well, the token is not the problem: for a while the proxy
// passes 401s through instead of forcing a new token per request.
//
// Bodies are kept for that replay within a memory budget shared by all
// requests ([Options.MaxReplayMemory]); a body that does not fit streams
// through without one. Only GET, HEAD, POST and DELETE are forwarded, paths
// that some server could read as a dot segment are refused, and headers and
// trailers that could carry a client's credential or reroute the request
// are dropped. Unless remote use is allowed, requests from web pages
// (Origin, Sec-Fetch-Site) are refused except from [Options.AllowOrigins].
//
// Providers are read through [Providers] (a *registry.Live) on every
// request, so a config reload reaches the next request.
//
// A Server is an http.Handler; Listen and Serve add the loopback check and
// a graceful shutdown:
//
//	live, err := registry.NewLive("byokcred.yaml", registry.Options{})
//	…
//	srv, err := proxy.New(proxy.Options{Providers: live, Default: "foundry"})
//	…
//	ln, err := srv.Listen("127.0.0.1:7787")
//	…
//	err = srv.Serve(ctx, ln) // until ctx is done, then drains in-flight streams
package proxy
