package schedule

import "errors"

// MarshalJSON stores the schedule (see the package doc for the format).
func (s *Schedule) MarshalJSON() ([]byte, error) {
	return nil, errors.New("schedule: MarshalJSON: not implemented yet")
}

// UnmarshalJSON reads a schedule stored by MarshalJSON and validates it as
// New does.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	return errors.New("schedule: UnmarshalJSON: not implemented yet")
}
