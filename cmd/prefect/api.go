package main

// The client of the commands that talk to the server the configuration
// names, and what their errors say when it cannot be reached.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/prefect-go/prefect/client"
	"github.com/prefect-go/prefect/config"
)

// setServer says how to name the server, for errors.
const setServer = "set cloud.api in ~/.prefect/config.toml or PREFECT__CLOUD__API to your server, e.g. http://127.0.0.1:4200/graphql"

// errPrefectCloud is the error for a cloud.api naming Prefect Cloud, the
// default of Prefect's configuration (backend = "cloud"): no prefect-go
// server answers there, so trying (four times, as for any network
// failure) would only delay the sentence that says what to change.
var errPrefectCloud = errors.New("cloud.api is https://api.prefect.io, Prefect Cloud's address and the configuration's default, where no prefect-go server answers: " +
	setServer + ` (or backend = "server" for http://localhost:4200)`)

// apiClient returns a client for the server the configuration names.
func apiClient() (*client.Client, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("loading the configuration: %w", err)
	}
	return clientFromConfig(cfg)
}

// clientFromConfig is client.FromConfig, refusing Prefect Cloud's address
// (errPrefectCloud) before any request.
func clientFromConfig(cfg *config.Config) (*client.Client, error) {
	if u, err := url.Parse(strings.TrimSpace(cfg.String("cloud.api"))); err == nil && strings.EqualFold(u.Hostname(), "api.prefect.io") {
		return nil, errPrefectCloud
	}
	return client.FromConfig(cfg)
}

// withServerHint adds to an error that says the server could not be
// reached (its name does not resolve, or nothing listens there) which
// setting names it: the usual cause is a configuration naming another
// server, or none.
func withServerHint(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w\n  is the server running? If it runs elsewhere, %s", err, setServer)
	}
	return err
}
