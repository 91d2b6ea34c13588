package python

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// DecodeJSON decodes data, which must hold exactly one JSON value, into
// what Python's json.loads gives, in encoding/json's Go types: null, true,
// false, strings, []any for arrays and map[string]any for objects, and
// numbers as JSONNumber reads them.
//
// Where it differs from json.loads: NaN, Infinity and -Infinity, which
// json.loads accepts, are refused, as encoding/json refuses them; an
// integer of more than MaxIntDigits digits, which json.loads refuses
// (ValueError), keeps its digits; a lone surrogate escape ("\ud800") reads
// as U+FFFD. An object's repeated key keeps its last value in both.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("python: data after the JSON value")
	}
	return jsonNumbers(v), nil
}

// JSONNumber returns the number n as json.loads reads it: an int when n is
// an integer (no '.', 'e' or 'E') that fits an int64; n itself, its digits
// kept, for a larger integer, which Python reads as an exact int; else a
// float64 (±Inf past its range, as float() gives).
func JSONNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return int(i)
	}
	if !strings.ContainsAny(n.String(), ".eE") {
		return n
	}
	f, _ := n.Float64() // out of range: ±Inf, with an error we do not need
	return f
}

// jsonNumbers replaces the json.Numbers in x with JSONNumber's values.
func jsonNumbers(x any) any {
	switch t := x.(type) {
	case json.Number:
		return JSONNumber(t)
	case map[string]any:
		for k, e := range t {
			t[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = jsonNumbers(e)
		}
	}
	return x
}
