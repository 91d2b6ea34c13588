package secrets

// ServerFromConfig is the secret server a Resolver reaches by default, for
// the conformance suite.
var ServerFromConfig = serverFromConfig
