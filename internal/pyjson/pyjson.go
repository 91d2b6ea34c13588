// Package pyjson decodes JSON the way Prefect 1's Python code sees it after
// json.loads. Its rules now live in internal/python with Python's other
// rules; this package forwards to it until its callers (secrets, client)
// call python.DecodeJSON themselves.
//
// Deprecated: use python.DecodeJSON.
package pyjson

import "github.com/prefect-go/prefect/internal/python"

// Decode decodes data, which must hold exactly one JSON value: integers
// become int, other numbers float64 (an integer too large for an int64
// keeps its digits as a json.Number), objects map[string]any and arrays
// []any.
//
// Deprecated: use python.DecodeJSON, which this calls.
func Decode(data []byte) (any, error) { return python.DecodeJSON(data) }
