package flow_test

import (
	"testing"

	"github.com/prefect-go/prefect/flow"
)

// WithDefault, and Default, its former name, make a parameter optional
// with the value given.
func TestWithDefault(t *testing.T) {
	for name, opt := range map[string]flow.ParamOption[int]{"WithDefault": flow.WithDefault(3), "Default": flow.Default(3)} {
		var p flow.Param
		opt(&p)
		if !p.HasDefault || p.Default != 3 {
			t.Errorf("%s(3): HasDefault %v, Default %v; want true, 3", name, p.HasDefault, p.Default)
		}
	}
}
