package natsexec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/prefect-go/prefect/flow"
)

// Version returns the version of g that executors put in every job and
// workers check: a digest of what a worker relies on to call the flow's
// tasks as the run means them: each task's slug, name, inputs (names and Go
// types), result type, timeout, whether it is mapped or a secret, and its
// upstream tasks; and the parameters' names and types. A worker whose flow
// has another version refuses the job, naming both versions, rather than
// call a task that changed. Only the flow's shape is compared: a change in
// a task's function body alone keeps the version, so deploy workers from
// the same build as the programs that run the flows.
func Version(g *flow.Graph) string {
	h := sha256.New()
	line := func(h hash.Hash, format string, args ...any) { fmt.Fprintf(h, format+"\n", args...) }
	line(h, "flow %q", g.Name)
	for _, t := range g.Tasks {
		if p := t.Param; p != nil {
			line(h, "param %q %s default=%t", p.Name, p.Type, p.HasDefault)
			continue
		}
		line(h, "task %q %q mapped=%t secret=%t timeout=%d -> %v", t.Slug, t.Spec.Name, t.Mapped, t.Spec.Secret, t.Spec.Timeout, t.Spec.Output)
		for _, in := range t.Spec.Inputs {
			line(h, "  input %q %v", in.Name, in.Type)
		}
		for _, u := range t.Upstream {
			line(h, "  after %q", g.Tasks[u].Slug)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
