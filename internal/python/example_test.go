package python_test

import (
	"fmt"
	"math"

	"github.com/prefect-go/prefect/internal/python"
)

// Prefect 1 reads a configuration value with ast.literal_eval and prints
// one into text with str(); a Go program does the same with these two.
func ExampleLiteralEval() {
	for _, src := range []string{
		"{'port': 4200, 'hosts': ('a',), 1: True, 1.0: None}",
		"0x_ff",
		"hello", // not a literal: Prefect keeps the text
	} {
		v, ok := python.LiteralEval(src)
		if !ok {
			fmt.Printf("%s: not a literal\n", src)
			continue
		}
		s, _ := python.Str(v)
		fmt.Printf("%T %s\n", v, s)
	}
	// Output:
	// python.Dict {'port': 4200, 'hosts': ('a',), 1: None}
	// int64 255
	// hello: not a literal
}

func ExampleRepr() {
	for _, v := range []any{1e16, 0.1, math.Copysign(0, -1), "it's", []byte{0, 'a'}, python.Tuple{1}, python.Set{}} {
		s, _ := python.Repr(v)
		fmt.Println(s)
	}
	// Output:
	// 1e+16
	// 0.1
	// -0.0
	// "it's"
	// b'\x00a'
	// (1,)
	// set()
}

// A secret's text that parses as JSON is the value json.loads gives.
func ExampleDecodeJSON() {
	v, _ := python.DecodeJSON([]byte(`{"user": "ci", "port": 5432, "ratio": 1e3, "id": 123456789012345678901}`))
	m := v.(map[string]any)
	fmt.Printf("%T %T %T %v\n", m["port"], m["ratio"], m["id"], m["id"])
	// Output:
	// int float64 json.Number 123456789012345678901
}
