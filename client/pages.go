package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
)

// secretsPageQuery asks this project's server for one page of names.
const secretsPageQuery = `query($limit: Int, $after: String) { secrets_page(limit: $limit, after: $after) { names next } }`

// MaxPageSize is the most names a page may hold on this project's server
// (its server.MaxPageSize).
const MaxPageSize = 1000

// ErrNoPages is matched by the error of [Client.SecretNamesPage] from a
// server that cannot list secrets a page at a time: one without the
// secrets_page query, as Prefect Cloud. [Client.SecretNames] lists them
// there.
var ErrNoPages = errors.New("the server has no secrets_page query to list secrets a page at a time; secret_names lists them all")

// noPagesText is how a GraphQL server (graphql-js, and graph-gophers
// alike) refuses a query for a field it does not have.
const noPagesText = `Cannot query field "secrets_page"`

// SecretNamesPage returns one page of the names of the server's secrets,
// sorted bytewise: up to limit of them (1 to [MaxPageSize]; 0 for the
// server's default, 100) that sort after after ("" for the first page),
// and next, the after of the page that follows, "" when this page is the
// last. Each page costs the server the same however many secrets there
// are. A server without the secrets_page query (Prefect Cloud) answers an
// error matching [ErrNoPages].
func (c *Client) SecretNamesPage(ctx context.Context, after string, limit int) (names []string, next string, err error) {
	vars := map[string]any{}
	if after != "" {
		vars["after"] = after
	}
	if limit != 0 {
		vars["limit"] = limit
	}
	p, err := call[struct {
		Names []string `json:"names"`
		Next  *string  `json:"next"`
	}](ctx, c, "listing a page of the secrets", secretsPageQuery, vars, c.mask, "secrets_page")
	if err != nil {
		return nil, "", err
	}
	if p.Next != nil {
		next = *p.Next
		// A cursor that does not move on would list the same page for ever.
		if next <= after || len(p.Names) == 0 {
			return nil, "", fmt.Errorf("listing a page of the secrets on %s: the API's next page starts after %q, not past the page after %q", c, next, after)
		}
	}
	return p.Names, next, nil
}

// AllSecretNames iterates over the names of the server's secrets that
// sort after after ("" for all of them), sorted bytewise, asking for them
// a page of limit at a time (see [Client.SecretNamesPage]; 0 for the
// server's default): it holds one page however many secrets there are.
// From a server without pages ([ErrNoPages], as Prefect Cloud) it reads
// every name at once with secret_names instead, and sorts them. An error
// ends the iteration: it is yielded once, with "".
//
//	for name, err := range c.AllSecretNames(ctx, "", 0) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(name)
//	}
func (c *Client) AllSecretNames(ctx context.Context, after string, limit int) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		cursor := after
		for first := true; ; first = false {
			names, next, err := c.SecretNamesPage(ctx, cursor, limit)
			if first && errors.Is(err, ErrNoPages) {
				c.allAtOnce(ctx, after, yield)
				return
			}
			if err != nil {
				yield("", err)
				return
			}
			for _, n := range names {
				if !yield(n, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			cursor = next
		}
	}
}

// allAtOnce yields the names after after of one secret_names answer,
// sorted.
func (c *Client) allAtOnce(ctx context.Context, after string, yield func(string, error) bool) {
	names, err := c.SecretNames(ctx)
	if err != nil {
		yield("", err)
		return
	}
	slices.Sort(names)
	for _, n := range names {
		if n > after && !yield(n, nil) {
			return
		}
	}
}
