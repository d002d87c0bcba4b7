package plugin

// ActsForEachUser implements kind.UserActor: per_user sends each user's
// token to the plugin to exchange.
func (a *Auth) ActsForEachUser() bool { return a.PerUser }
