package server

import "time"

// SetUnknownKeyWindow shortens the window of the unknown keys' audit rate.
func SetUnknownKeyWindow(s *Server, d time.Duration) { s.unknown.every = d }

// SetClock makes s read the time from now.
func SetClock(s *Server, now func() time.Time) { s.now = now }

// MaskTTL is how long a masker is trusted over a store without a stamp.
const MaskTTL = maskTTL
