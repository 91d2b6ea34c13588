package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/gql"
)

// The secret server is reached here, through the GraphQL transport that
// package client builds on (internal/gql), rather than through client: a
// resolver then asks the server the configuration names with no code from
// the user, inside a run or outside one, and neither runner nor any other
// user of secrets has to import client to wire it in. Package client stays
// the way to reach a server with a client of one's own (client.NewSource).

// serverFromConfig is the secret server the configuration names, as
// Prefect 1 reads it: cloud.api (the URL), cloud.api_key and
// cloud.tenant_id, with client's defaults (10s per attempt, 3 retries).
// It is what a [Resolver] falls back on when neither [WithBackend] nor
// [WithBackendFactory] says otherwise. An empty cloud.api is an error
// saying how to set it.
func serverFromConfig(cfg *config.Config) (Source, error) {
	api := cfg.String("cloud.api")
	if strings.TrimSpace(api) == "" {
		return nil, gql.ErrNoServer
	}
	c, err := gql.New(api, gql.Options{
		Key:     cfg.String("cloud.api_key"),
		Tenant:  cfg.String("cloud.tenant_id"),
		Retries: gql.DefaultRetries,
	})
	if err != nil {
		return nil, err
	}
	return server{c}, nil
}

// server is a secret server as a [Lister].
type server struct{ c *gql.Client }

var _ Lister = server{}

// Lookup asks the server for the secret's value; a secret it does not have
// is a *NotFoundError with Prefect's message for server secrets.
func (s server) Lookup(ctx context.Context, name string) (any, error) {
	if name == "" {
		return nil, fmt.Errorf("reading secret %q from %s: %w", name, s, ErrNoName)
	}
	v, err := s.c.SecretValue(ctx, name)
	var miss *gql.MissingError
	if errors.As(err, &miss) {
		return nil, &NotFoundError{Name: name, Tried: []string{s.String()}, Server: true}
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %q from %s: %w", name, s, err)
	}
	return v, nil
}

// Names lists the server's secret names (secret_names), never their values.
func (s server) Names(ctx context.Context) ([]string, error) {
	names, err := s.c.SecretNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the secrets of %s: %w", s, err)
	}
	return names, nil
}

// String returns "secret server <url>", without any password.
func (s server) String() string { return s.c.String() }
