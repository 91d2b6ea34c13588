package schedule

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is matched (errors.Is) by every error this package returns: a
// bad cron expression, an interval that is not positive, an end before the
// start, a nil location, an empty dates list, a bad filter argument, or a
// stored schedule that does not decode. The error's text names the bad value
// and what would be valid.
var ErrInvalid = errors.New("schedule: invalid")

// invalidError carries a sentence about one bad value. It prints as
// "schedule: <sentence>" rather than ErrInvalid's text followed by the
// sentence, so that the message reads as one sentence a user can act on.
type invalidError struct {
	msg   string
	cause error
}

func (e *invalidError) Error() string { return "schedule: " + e.msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// Unwrap gives the cause (a cron parse error, a time zone error), if any.
func (e *invalidError) Unwrap() error { return e.cause }

var _ error = (*invalidError)(nil)

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

func invalidWrap(cause error, format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// LoadLocation is time.LoadLocation with an error that matches ErrInvalid
// and names the zone and the form a valid name takes.
func LoadLocation(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalidWrap(err, "unknown time zone %q: %v (want an IANA name such as \"Europe/Berlin\" or \"America/New_York\", or \"UTC\")", name, err)
	}
	return loc, nil
}
