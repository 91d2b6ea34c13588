package client

import (
	"context"
	"errors"
	"strings"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/internal/gql"
	"github.com/prefect-go/prefect/secrets"
)

// NewSource returns c as a [secrets.Source], the secret server a
// [secrets.Resolver] falls back on (secrets.WithBackend): Lookup is
// [Client.SecretValue] and String is [Client.String]. A resolver reaches
// the server the configuration names without it; it is for a client set up
// otherwise (its own HTTP client, timeouts or retries), and its errors are
// this package's (a *[GraphQLError] for errors.As).
func NewSource(c *Client) secrets.Source { return source{c} }

type source struct{ c *Client }

func (s source) Lookup(ctx context.Context, name string) (any, error) {
	return s.c.SecretValue(ctx, name)
}

func (s source) String() string { return s.c.String() }

// Names lists the server's secret names ([Client.SecretNames]), so that
// secrets' Exists asks for names only, as Prefect does.
func (s source) Names(ctx context.Context) ([]string, error) { return s.c.SecretNames(ctx) }

var _ secrets.Lister = source{}

// FromConfig returns a client for the server Prefect's configuration names:
// cloud.api (the URL), cloud.api_key and cloud.tenant_id. opts come after
// those, so they win. An empty cloud.api is an error saying how to set it.
func FromConfig(cfg *config.Config, opts ...Option) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("secret server client: no configuration given")
	}
	api := cfg.String("cloud.api")
	if strings.TrimSpace(api) == "" {
		return nil, gql.ErrNoServer
	}
	base := []Option{WithAPIKey(cfg.String("cloud.api_key")), WithTenantID(cfg.String("cloud.tenant_id"))}
	return New(api, append(base, opts...)...)
}

// SourceFromConfig is the secret server the configuration names, as a
// [secrets.Source], for secrets.WithBackendFactory. A resolver given no
// factory reaches the same server by itself, over the same requests; this
// one answers with this package's errors.
func SourceFromConfig(cfg *config.Config) (secrets.Source, error) {
	c, err := FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	return NewSource(c), nil
}
