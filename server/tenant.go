package server

import (
	"context"
	"errors"
	"slices"

	"github.com/prefect-go/prefect/orchestration"
)

// The tenant query, as Prefect 1's client asks it of Prefect Cloud (a
// Hasura schema): `prefect auth login` reads the tenant of its key
// (where: {id: {_eq: ...}}), list-tenants lists them (order_by: {slug:
// asc}), switch-tenants finds one by slug, and Prefect Server's client
// takes the first (tenant { id }). An API key opens one tenant only, so
// the answer is that tenant or nothing: never another tenant, whatever
// the where says.
const tenantSchema = `
extend type Query {
	"""
	The caller's tenant (its API key's), if it matches where; [] otherwise.
	No other tenant is ever listed. order_by is accepted, as Hasura's.
	"""
	tenant(where: tenant_bool_exp, order_by: [tenant_order_by!], limit: Int, offset: Int): [tenant!]!
}

"A tenant. Its slug and its name are both the name given at its creation."
type tenant {
	id: String!
	slug: String!
	name: String!
}

"Hasura's filter of tenants: every condition given must hold."
input tenant_bool_exp {
	_and: [tenant_bool_exp!]
	_or: [tenant_bool_exp!]
	_not: tenant_bool_exp
	id: String_comparison_exp
	slug: String_comparison_exp
	name: String_comparison_exp
}

"Hasura's comparison of a String: every operator given must hold; a null one is ignored."
input String_comparison_exp {
	_eq: String
	_neq: String
	_in: [String!]
	_nin: [String!]
}

"Hasura's order of tenants."
input tenant_order_by {
	id: order_by
	slug: order_by
	name: order_by
}

"Hasura's directions of order_by."
enum order_by {
	asc
	asc_nulls_first
	asc_nulls_last
	desc
	desc_nulls_first
	desc_nulls_last
}
`

// A TenantNamer is a [Store] that knows its tenants' names (store.SQL is
// one). The tenant query answers with the name as the tenant's slug and
// name; over another store it answers with the tenant's ID for both.
type TenantNamer interface {
	// TenantName returns the name of the tenant whose ID is id, or an
	// error matching orchestration.ErrNotFound.
	TenantName(ctx context.Context, id string) (string, error)
}

type tenantBoolExp struct {
	And  *[]*tenantBoolExp
	Or   *[]*tenantBoolExp
	Not  *tenantBoolExp
	ID   *stringComparison
	Slug *stringComparison
	Name *stringComparison
}

type stringComparison struct {
	Eq  *string
	Neq *string
	In  *[]string
	Nin *[]string
}

type tenantOrderBy struct {
	ID   *string
	Slug *string
	Name *string
}

type tenantArgs struct {
	Where   *tenantBoolExp
	OrderBy *[]*tenantOrderBy
	Limit   *int32
	Offset  *int32
}

// Tenant answers the tenant query: the caller's tenant, if it matches.
func (r *resolver) Tenant(ctx context.Context, args tenantArgs) ([]*tenantView, error) {
	if (args.Limit != nil && *args.Limit < 0) || (args.Offset != nil && *args.Offset < 0) {
		return nil, userError("tenant: limit and offset must not be negative")
	}
	id := caller(ctx).TenantID
	name := id
	if n, ok := r.s.st.(TenantNamer); ok {
		var err error
		name, err = n.TenantName(ctx, id)
		switch {
		case errors.Is(err, orchestration.ErrNotFound):
			// Gone since the key was accepted (and cached).
			return []*tenantView{}, nil
		case err != nil:
			r.s.log.ErrorContext(ctx, "secret server: reading a tenant's name", "tenant_id", id, "err", err)
			return nil, errInternal
		}
	}
	t := &tenantView{id: id, name: name}
	if !args.Where.matches(t) || (args.Limit != nil && *args.Limit == 0) || (args.Offset != nil && *args.Offset > 0) {
		return []*tenantView{}, nil
	}
	return []*tenantView{t}, nil
}

// matches reports whether t meets every condition of e; a nil e has none.
func (e *tenantBoolExp) matches(t *tenantView) bool {
	if e == nil {
		return true
	}
	if e.And != nil {
		for _, c := range *e.And {
			if !c.matches(t) {
				return false
			}
		}
	}
	if e.Or != nil && len(*e.Or) > 0 && !slices.ContainsFunc(*e.Or, func(c *tenantBoolExp) bool { return c.matches(t) }) {
		return false
	}
	if e.Not != nil && e.Not.matches(t) {
		return false
	}
	return e.ID.matches(t.id) && e.Slug.matches(t.name) && e.Name.matches(t.name)
}

// matches reports whether s meets every operator of c; a nil c has none.
func (c *stringComparison) matches(s string) bool {
	switch {
	case c == nil:
		return true
	case c.Eq != nil && *c.Eq != s,
		c.Neq != nil && *c.Neq == s,
		c.In != nil && !slices.Contains(*c.In, s),
		c.Nin != nil && slices.Contains(*c.Nin, s):
		return false
	}
	return true
}

// tenantView is a tenant as the tenant query shows it.
type tenantView struct{ id, name string }

func (t *tenantView) ID() string   { return t.id }
func (t *tenantView) Slug() string { return t.name }
func (t *tenantView) Name() string { return t.name }
