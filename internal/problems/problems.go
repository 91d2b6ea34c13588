// Package problems reports many errors at once, as one error a user can
// read: a header that counts them, then one problem per line.
//
//	3 problems in flow "etl":
//		- slug "load" is used by two tasks (the 2nd and the 3rd added); slugs must be unique
//		- parameter "day" has upstream tasks (extract-1); parameters must be root tasks
//		- task "load": input "rows" is bound twice
//
// A single problem reads as it would alone, with no header. The list is a
// *multierror.Error (github.com/hashicorp/go-multierror): errors.Is and
// errors.As reach every problem in it, and multierror.Group gathers
// problems found concurrently. Problems are kept whole; the header only
// saves repeating what they all begin with when they are printed together.
package problems

import (
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Format returns the ErrorFormat of a list of problems. header(n) is the
// first line for n > 1 problems, without its colon; prefix, when every
// problem begins with it, is left out of their lines, which the header
// already says (`flow "etl": `). A problem of several lines keeps them,
// indented under its own.
func Format(header func(n int) string, prefix string) multierror.ErrorFormatFunc {
	return func(errs []error) string {
		switch len(errs) {
		case 0:
			return "no problems"
		case 1:
			return errs[0].Error()
		}
		texts := make([]string, len(errs))
		cut := prefix != ""
		for i, err := range errs {
			texts[i] = err.Error()
			cut = cut && strings.HasPrefix(texts[i], prefix)
		}
		var b strings.Builder
		b.WriteString(header(len(errs)))
		b.WriteString(":")
		for _, t := range texts {
			if cut {
				t = t[len(prefix):]
			}
			b.WriteString("\n\t- ")
			b.WriteString(strings.ReplaceAll(t, "\n", "\n\t  "))
		}
		return b.String()
	}
}

// Join returns errs, less the nil ones, as one *multierror.Error printed
// by format; nil when there are none.
func Join(format multierror.ErrorFormatFunc, errs ...error) error {
	m := &multierror.Error{ErrorFormat: format}
	for _, err := range errs {
		if err != nil {
			m.Errors = append(m.Errors, err)
		}
	}
	return m.ErrorOrNil()
}
