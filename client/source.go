package client

import (
	"context"
	"errors"

	"github.com/prefect-go/prefect/config"
	"github.com/prefect-go/prefect/secrets"
)

// NewSource returns c as a [secrets.Source], the secret server a
// [secrets.Resolver] falls back on (secrets.WithBackend): Lookup is
// [Client.SecretValue] and String is [Client.String].
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
// those, so they win.
func FromConfig(cfg *config.Config, opts ...Option) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("secret server client: no configuration given")
	}
	base := []Option{WithAPIKey(cfg.String("cloud.api_key")), WithTenantID(cfg.String("cloud.tenant_id"))}
	return New(cfg.String("cloud.api"), append(base, opts...)...)
}
