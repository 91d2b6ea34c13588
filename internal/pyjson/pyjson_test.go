package pyjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecode(t *testing.T) {
	for in, want := range map[string]any{
		`3`:                        3,
		`-7.5`:                     -7.5,
		`1e3`:                      1000.0,
		`"s"`:                      "s",
		`{"a": [1, 2.5, "x"]}`:     map[string]any{"a": []any{1, 2.5, "x"}},
		`123456789012345678901234`: json.Number("123456789012345678901234"),
		`null`:                     nil,
	} {
		got, err := Decode([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `1 2`, `"a" x`} {
		if v, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %#v; want an error", bad, v)
		}
	}
}
