package flow

import (
	"strconv"
	"strings"
)

// DOT returns the flow as a Graphviz digraph: one node per task (parameters
// as ellipses, mapped tasks marked), data edges labelled with the input name
// (dashed when mapped over), dependency-only edges dotted. Constants,
// parameter defaults and results never appear, only task names (a Case task
// is named after the value it compares with, as in Prefect: case(true)). It renders an invalid flow too, so a
// cycle can be looked at: `go run . | dot -Tsvg`.
func (f *Flow) DOT() string {
	var b strings.Builder
	b.WriteString("digraph " + dotQuote(f.name) + " {\n")
	for _, n := range f.nodes {
		label, shape := n.run.Spec().Name, "box"
		if n.param != nil {
			shape = "ellipse"
		}
		if n.mapped {
			label += " <map>"
		}
		b.WriteString("  " + dotQuote(n.slug) + " [label=" + dotQuote(label) + ", shape=" + shape + "];\n")
	}
	f.eachEdge(func(from, to *node, key string, mapped, data bool) {
		attrs := "style=dotted"
		if data {
			attrs = "label=" + dotQuote(key)
			if mapped {
				attrs += ", style=dashed"
			}
		}
		b.WriteString("  " + dotQuote(from.slug) + " -> " + dotQuote(to.slug) + " [" + attrs + "];\n")
	})
	b.WriteString("}\n")
	return b.String()
}

// Mermaid returns the flow as a Mermaid flowchart, for Markdown that renders
// it (GitHub does): data edges carry the input name, dependency-only edges are
// dotted, mapped edges thick.
func (f *Flow) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	for i, n := range f.nodes {
		label := n.run.Spec().Name
		if n.mapped {
			label += " ⟨map⟩"
		}
		open, close := "[", "]"
		if n.param != nil {
			open, close = "([", "])"
		}
		b.WriteString("  t" + strconv.Itoa(i) + open + mermaidQuote(n.slug+": "+label) + close + "\n")
	}
	index := make(map[*node]int, len(f.nodes))
	for i, n := range f.nodes {
		index[n] = i
	}
	f.eachEdge(func(from, to *node, key string, mapped, data bool) {
		arrow := " -.-> "
		if data {
			arrow = " -->|" + mermaidQuote(key) + "| "
			if mapped {
				arrow = " ==>|" + mermaidQuote(key) + "| "
			}
		}
		b.WriteString("  t" + strconv.Itoa(index[from]) + arrow + "t" + strconv.Itoa(index[to]) + "\n")
	})
	return b.String()
}

func (f *Flow) eachEdge(fn func(from, to *node, key string, mapped, data bool)) {
	for _, n := range f.nodes {
		for _, e := range n.inputs {
			if e.From >= 0 {
				fn(f.nodes[e.From], n, e.Key, e.Mapped, true)
			}
		}
		for _, d := range n.deps {
			fn(f.nodes[d], n, "", false, false)
		}
	}
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func mermaidQuote(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "\n", " ", "|", "#124;")
	return `"` + r.Replace(s) + `"`
}
