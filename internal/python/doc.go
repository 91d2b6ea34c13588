// Package python reads and prints values the way Prefect 1's Python code
// does, so that a Go program given the same text finds the same value:
// ast.literal_eval (LiteralEval), str() and repr() (Str, Repr), truth
// testing (Truth) and json.loads' numbers (DecodeJSON, JSONNumber). It is
// the one place that knows Python's rules; config (Prefect's loading rules),
// secrets and the secret server's client call it.
//
//	v, ok := python.LiteralEval("{'port': 4200, 'hosts': ('a', 'b')}")
//	// v is python.Dict{{"port", int64(4200)}, {"hosts", python.Tuple{"a", "b"}}}
//	s, err := python.Str(v) // "{'port': 4200, 'hosts': ('a', 'b')}"
//
// Python values in Go:
//
//	None        nil
//	bool        bool
//	int         int64, or *big.Int past int64 (int is accepted as input)
//	float       float64
//	complex     complex128
//	str         string (a byte that is not UTF-8 stands for the lone
//	            surrogate U+DC80-U+DCFF that os.environ's surrogateescape makes)
//	bytes       []byte
//	list        []any
//	tuple       Tuple
//	set         Set (its elements in the order first met)
//	dict        Dict (its items in insertion order); map[string]any is
//	            printed too, its keys sorted
//	datetime    time.Time (see Str)
//
// LiteralEval, Str and Repr follow CPython 3.11, the last Python that
// Prefect 1.4.1 supports, and its limits: brackets and unary signs nest at
// most MaxNesting deep, and an int has decimal text only up to MaxIntDigits
// digits (longer literals are refused; printing one fails with
// ErrIntTooLong). Each call takes time linear in the size of its text. testdata/python3.jsonl holds what CPython printed for the
// inputs the tests check, so the tests need no Python.
//
// Where this package differs from CPython, each a case no configuration or
// secret meets in practice: \N{NAME} escapes and the Ellipsis (...) are
// refused; a lone surrogate escape that a Go string cannot hold as one
// byte reads as U+FFFD (one outside \udc80-\udcff, or one whose byte would
// join its neighbours' into a UTF-8 character, as in '\udcc3\udca9'); a set
// prints its elements in the order first met, where CPython prints them in
// hash order (the same for small ints in order, but different on every run
// for strings); a time inside a container prints as str() prints it, where
// repr() names its class (datetime.date(1979, 5, 27)); and printability,
// which decides what repr() escapes, follows the Unicode version of Go's
// unicode package, so a character assigned after Unicode 14 prints as
// itself where Python 3.11 escapes it.
package python
