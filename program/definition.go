package program

import (
	"encoding/json"
	"fmt"

	"github.com/prefect-go/prefect/flow"
)

// Definition is what a flow program registers of a flow: enough for a page
// to draw it and for an execution to check that the program still has the
// registered flow. Its JSON is stable for a given flow.
type Definition struct {
	Name       string         `json:"name"`
	Tasks      []TaskDef      `json:"tasks"`
	Parameters []ParameterDef `json:"parameters"`
	Reference  []string       `json:"reference_tasks"`
}

// TaskDef is one task of a Definition.
type TaskDef struct {
	Slug     string   `json:"slug"`
	Name     string   `json:"name"`
	Mapped   bool     `json:"mapped,omitempty"`
	Secret   bool     `json:"secret,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Upstream []string `json:"upstream,omitempty"`
}

// ParameterDef is one parameter of a Definition.
type ParameterDef struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// Describe returns the Definition of f, which must be valid.
func Describe(f *flow.Flow) (Definition, error) {
	g, err := f.Graph()
	if err != nil {
		return Definition{}, err
	}
	d := Definition{Name: g.Name, Tasks: make([]TaskDef, len(g.Tasks)), Parameters: []ParameterDef{}, Reference: []string{}}
	for i, t := range g.Tasks {
		td := TaskDef{Slug: t.Slug, Name: t.Spec.Name, Mapped: t.Mapped, Secret: t.Spec.Secret, Tags: t.Spec.Tags}
		for _, u := range t.Upstream {
			td.Upstream = append(td.Upstream, g.Tasks[u].Slug)
		}
		d.Tasks[i] = td
	}
	for _, i := range g.Params {
		p := g.Tasks[i].Param
		d.Parameters = append(d.Parameters, ParameterDef{Name: p.Name, Type: p.Type.String(), Required: !p.HasDefault})
	}
	for _, i := range g.Reference {
		d.Reference = append(d.Reference, g.Tasks[i].Slug)
	}
	return d, nil
}

// decodeParameters decodes a run's parameters (a JSON object) into the Go
// types of f's parameters. Unknown names are left for the runner, which
// refuses them by name.
func decodeParameters(f *flow.Flow, raw json.RawMessage) (map[string]any, error) {
	var fields map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("the run's parameters are not a JSON object")
		}
	}
	g, err := f.Graph()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(fields))
	for name, v := range fields {
		out[name] = v // unknown: the runner says so
	}
	for _, i := range g.Params {
		p := g.Tasks[i].Param
		v, ok := fields[p.Name]
		if !ok {
			continue
		}
		ptr := reflectNew(p)
		if err := json.Unmarshal(v, ptr); err != nil {
			return nil, fmt.Errorf("parameter %q: the run's value is not a %s (JSON %s)", p.Name, p.Type, jsonKind(v))
		}
		out[p.Name] = deref(ptr)
	}
	return out, nil
}

func jsonKind(raw json.RawMessage) string {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return "object"
		case '[':
			return "array"
		case '"':
			return "string"
		case 't', 'f':
			return "boolean"
		case 'n':
			return "null"
		default:
			return "number"
		}
	}
	return "nothing"
}
