// Package secretstest is the conformance suite every [secrets.Source] must
// pass: the secret server's client, and any backend added later.
//
//	func TestMySource(t *testing.T) {
//		secretstest.Run(t, func(t *testing.T, secrets map[string]any) secrets.Source {
//			return newSourceHolding(t, secrets)
//		})
//	}
package secretstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-go/prefect/secrets"
)

// Run checks a source made by open, which must return a source holding
// exactly the given secrets (string, number or table values).
func Run(t *testing.T, open func(t *testing.T, secrets map[string]any) secrets.Source) {
	const leak = "s3cr3t-value-that-must-not-leak"
	held := map[string]any{
		"PLAIN":      leak,
		"lower_case": "lower",
		"JSON_TABLE": map[string]any{"user": "u", "password": leak + "-pw"},
		"NUMBER":     1234,
	}

	t.Run("FindsEachSecret", func(t *testing.T) {
		src := open(t, held)
		for name := range held {
			v, err := src.Lookup(context.Background(), name)
			if err != nil {
				t.Errorf("Lookup(%q): %v", name, err)
				continue
			}
			if got, want := fmt.Sprint(secrets.NewValue(v).Reveal()), fmt.Sprint(secrets.NewValue(held[name]).Reveal()); got != want {
				t.Errorf("Lookup(%q) returned a different value (lengths %d and %d)", name, len(got), len(want))
			}
		}
	})

	t.Run("MissingIsErrNotFound", func(t *testing.T) {
		src := open(t, held)
		_, err := src.Lookup(context.Background(), "NOT_THERE")
		if !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("Lookup of a missing secret: %v; want an error matching secrets.ErrNotFound", err)
		}
		if !strings.Contains(err.Error(), "NOT_THERE") {
			t.Errorf("the error %q does not name the secret", err)
		}
	})

	t.Run("NamesAreCaseSensitive", func(t *testing.T) {
		src := open(t, held)
		for _, name := range []string{"plain", "LOWER_CASE", "Plain"} {
			if _, err := src.Lookup(context.Background(), name); !errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("Lookup(%q) = %v; names are case-sensitive, so want ErrNotFound", name, err)
			}
		}
	})

	t.Run("ErrorsHoldNoValue", func(t *testing.T) {
		src := open(t, held)
		_, err := src.Lookup(context.Background(), "NOT_THERE")
		if err != nil && strings.Contains(err.Error(), leak) {
			t.Errorf("an error shows a secret value: %q", err)
		}
		if s := src.String(); strings.Contains(s, leak) {
			t.Errorf("the source's description shows a secret value: %q", s)
		}
	})

	t.Run("HonoursCancellation", func(t *testing.T) {
		src := open(t, held)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := src.Lookup(ctx, "PLAIN"); err == nil {
			t.Errorf("Lookup with a cancelled context succeeded; want an error")
		} else if errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Lookup with a cancelled context: %v; a cancellation is not a missing secret", err)
		}
	})

	t.Run("EmptySource", func(t *testing.T) {
		src := open(t, map[string]any{})
		if _, err := src.Lookup(context.Background(), "PLAIN"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Lookup in an empty source: %v; want ErrNotFound", err)
		}
	})
}
