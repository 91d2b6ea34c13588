// Package pyjson decodes JSON the way Prefect 1's Python code sees it after
// json.loads: integers become int, other numbers float64 (an integer too
// large for an int64 keeps its digits as a json.Number), objects
// map[string]any and arrays []any. The secrets package and the secret
// server's client both read values so, so that a secret reads the same
// from the environment, the config file and the server.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Decode decodes data, which must hold exactly one JSON value.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("pyjson: data after the JSON value")
	}
	return numbers(v), nil
}

// numbers turns the json.Numbers of x into int or float64.
func numbers(x any) any {
	switch t := x.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		if !strings.ContainsAny(t.String(), ".eE") {
			return t // an integer too large for int64 keeps its digits
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return x
}
