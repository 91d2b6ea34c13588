package secrets_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/prefect-go/prefect/secrets"
	"github.com/prefect-go/prefect/secrets/sensitive"
)

// TestValueIsSensitiveValue checks that the value names secrets re-exports
// are package sensitive's (their own tests are there): the same type, the
// same error, and functions that agree.
func TestValueIsSensitiveValue(t *testing.T) {
	if reflect.TypeFor[secrets.Value]() != reflect.TypeFor[sensitive.Value]() {
		t.Fatal("secrets.Value is not sensitive.Value")
	}
	if secrets.ErrBuildingFlow != sensitive.ErrBuildingFlow || secrets.Redacted != sensitive.Redacted {
		t.Error("secrets.ErrBuildingFlow or secrets.Redacted is not sensitive's")
	}
	var v secrets.Value = sensitive.NewValue(leak)
	if got := fmt.Sprint(secrets.NewValue(leak), v); got != secrets.Redacted+" "+secrets.Redacted {
		t.Errorf("fmt.Sprint = %q", got)
	}
	if s, err := secrets.As[string](v); s != leak || err != nil {
		t.Errorf("As[string] = %q, %v", s, err)
	}
	type holder struct{ V sensitive.Value }
	if !secrets.CanHold(reflect.TypeFor[holder]()) || secrets.CanHold(reflect.TypeFor[struct{ N int }]()) {
		t.Error("CanHold disagrees with the types")
	}
	n := 0
	secrets.Find(map[string]any{"a": holder{v}, "b": v}, func(secrets.Value) { n++ })
	if n != 2 {
		t.Errorf("Find found %d values, want 2", n)
	}
	if err := fmt.Errorf("building: %w", secrets.ErrBuildingFlow); !errors.Is(err, sensitive.ErrBuildingFlow) {
		t.Error("errors.Is(err, sensitive.ErrBuildingFlow) is false for secrets.ErrBuildingFlow")
	}
}
