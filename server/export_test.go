package server

import "time"

// SetUnknownKeyWindow shortens the window of the unknown keys' audit rate.
func SetUnknownKeyWindow(s *Server, d time.Duration) { s.unknown.every = d }
