package config

// Validate checks c, a config built in code (registry.NewSet) rather than
// read from a file, by the rules Load applies to a file: every problem is in
// the returned ErrorList at its key path (providers.NAME.base_url), with no
// file position. Providers built in code carry their credential instead of
// an `auth:` block, so no Auth is asked for. Each provider's Name must be
// its key in Providers (Validate only reads the providers: a code-built
// provider may be in several configs at once). It sets c.Doc, and the
// default TokenTimeout when c sets none.
func (c *Config) Validate() error {
	c.Doc = NewDoc("", func(string) (string, bool) { return "", false })
	c.Doc.code = true
	c.validate()
	if c.TokenTimeout == 0 {
		c.TokenTimeout = DefaultTokenTimeout
	}
	return c.Doc.Err()
}

// ValidateProvider checks p, a provider built in code, by the rules Load
// applies to a provider entry, as Validate does; whether a provider
// without a Model has models listed is the whole config's question
// (Validate), so it is not asked here.
func ValidateProvider(p *Provider) error {
	d := NewDoc("", func(string) (string, bool) { return "", false })
	d.code = true
	p.validate(d, true)
	return d.Err()
}
