package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prefect-go/prefect/internal/python"
)

const (
	// DefaultMaxValueSize is the largest secret value accepted, as encoded
	// JSON, unless WithMaxValueSize says otherwise.
	DefaultMaxValueSize = 256 << 10
	// DefaultMaxSecrets is how many secrets a tenant may hold.
	DefaultMaxSecrets = 10000
	// DefaultPageSize is how many secrets a page of secrets_page lists
	// when its limit is not given.
	DefaultPageSize = 100
	// MaxPageSize is the largest limit secrets_page takes.
	MaxPageSize = 1000
	// maxBodyOverhead is what a request may hold beside the value.
	maxBodyOverhead = 1 << 20
)

// request is a decoded GraphQL request body.
type request struct {
	Query         string
	OperationName string
	Variables     map[string]any
}

// requestError is a problem with the request body; its text is safe to
// show (it quotes no value).
type requestError string

func (e requestError) Error() string { return string(e) }

var allowedFields = []string{"query", "variables", "operationName"}

// Query shape limits. The API's queries are small (Prefect's are under 200
// bytes and a dozen names); these bounds keep one request from making the
// server decrypt a value hundreds of times (aliases) or spend minutes
// validating (fragments), before the GraphQL library sees it.
const (
	maxQueryLength = 4 << 10
	maxQueryNames  = 64
)

// checkQueryShape refuses fragments, more than one secret_value and more
// than maxQueryNames names, looking at the query text outside its string
// literals.
func checkQueryShape(q string) error {
	names, values := 0, 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"':
			end := skipString(q, i)
			i = end
			continue
		case c == '#':
			// A comment ends at a line end, which GraphQL says is \n, \r or
			// both.
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
			continue
		case c == '.' && strings.HasPrefix(q[i:], "..."):
			return requestError("fragments (...) are not supported by this API")
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			switch q[i:j] {
			case "fragment":
				return requestError("fragments are not supported by this API")
			case "secret_value":
				values++
			}
			names++
			i = j
			continue
		}
		i++
	}
	if values > 1 {
		return requestError("a request may read one secret_value, not " + strconv.Itoa(values))
	}
	if names > maxQueryNames {
		return requestError("the query has " + strconv.Itoa(names) + " names; at most " + strconv.Itoa(maxQueryNames) + " are allowed")
	}
	return nil
}

// skipString returns the index just past the string literal starting at
// q[i] (a "..." string with escapes, or a """ block string).
func skipString(q string, i int) int {
	if strings.HasPrefix(q[i:], `"""`) {
		if end := strings.Index(q[i+3:], `"""`); end >= 0 {
			return i + 3 + end + 3
		}
		return len(q)
	}
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(q)
}

// decodeRequest decodes a request body: a JSON object with a string query,
// an optional operationName and optional variables, which are an object,
// null, or (as Prefect 1's client sends them) a string holding the JSON of
// an object or null. Integers among the variables become float64 (for Int
// arguments); other numbers keep their text (see numberValue), so that JSON
// values keep every digit and no number passes for a string.
func decodeRequest(body []byte) (request, error) {
	if i := invalidUTF8(body); i >= 0 {
		return request{}, requestError(fmt.Sprintf("the request body is not valid UTF-8 (byte %d); JSON is UTF-8", i+1))
	}
	var fields map[string]json.RawMessage
	if err := decodeOne(body, &fields); err != nil || fields == nil {
		return request{}, requestError("the request body is not a JSON object" + jsonProblem(body, err))
	}
	unknown := 0
	for k := range fields {
		if !slices.Contains(allowedFields, k) {
			unknown++
		}
	}
	if unknown > 0 {
		// Not named: nothing a request holds comes back in an answer.
		return request{}, requestError(fmt.Sprintf("the request body has %d field(s) other than the allowed %s",
			unknown, strings.Join(allowedFields, ", ")))
	}
	var req request
	raw, ok := fields["query"]
	if !ok || json.Unmarshal(raw, &req.Query) != nil || strings.TrimSpace(req.Query) == "" {
		return request{}, requestError("the request has no query: want a non-empty string")
	}
	if raw, ok := fields["operationName"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &req.OperationName) != nil {
			return request{}, requestError("the request's operationName is not a string")
		}
	}
	vars, err := decodeVariables(fields["variables"])
	if err != nil {
		return request{}, err
	}
	req.Variables = vars
	return req, nil
}

func decodeVariables(raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var text string
		if json.Unmarshal(raw, &text) != nil {
			return nil, requestError("the request's variables are not valid JSON")
		}
		if strings.TrimSpace(text) == "" {
			return nil, nil
		}
		raw = json.RawMessage(text)
		if isNull(raw) {
			return nil, nil
		}
	}
	var vars map[string]any
	if err := decodeOne(raw, &vars); err != nil || vars == nil {
		return nil, requestError("the request's variables are not a JSON object (nor a string holding one, nor null)")
	}
	for k, v := range vars {
		vars[k] = numbers(v)
	}
	return vars, nil
}

// numbers replaces the json.Numbers of v: with float64, for an integer
// (as Python's json.loads reads one: python.JSONNumber) that float64
// holds exactly (what the library accepts for Int and refuses for String;
// as JSON it is the same digits), else with numberValue.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, ok := python.JSONNumber(v).(int); ok && i >= -1<<53 && i <= 1<<53 {
			return float64(i)
		}
		return numberValue{string(v)}
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

// A numberValue is a JSON number among the variables, kept as its text in
// a struct. The GraphQL library turns any value of a string or integer
// kind into a String argument (65 would become "A"), but converts no
// struct: a number given for a name is refused. As JSON (in a JSON
// scalar's value) it is its text, every digit kept.
type numberValue struct{ text string }

// MarshalJSON returns the number's text.
func (n numberValue) MarshalJSON() ([]byte, error) { return []byte(n.text), nil }

// invalidUTF8 returns the index of the first byte of b that is not valid
// UTF-8, or -1. encoding/json would silently make each such byte U+FFFD,
// changing a value without a word.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonProblem says what is wrong with body, as a suffix of a message,
// quoting nothing of it.
func jsonProblem(body []byte, err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return ": the body is empty"
	case errors.As(err, &syntax):
		return fmt.Sprintf(": invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return ": it is a JSON " + typ.Value
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ": the JSON ends early"
	case errors.Is(err, errTrailing):
		return ": data follows the JSON object"
	case err != nil && strings.Contains(err.Error(), "exceeded max depth"):
		return ": nested too deeply"
	case err == nil:
		return ": it is null"
	}
	return ""
}

// errTrailing is decodeOne's error for data after the value.
var errTrailing = errors.New("data after the JSON value")

// decodeOne decodes exactly one JSON value from b into v, numbers as
// json.Number.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailing
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
