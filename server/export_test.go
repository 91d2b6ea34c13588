package server

import "time"

// SetUnknownKeyWindow shortens the window of the unknown keys' audit rate.
func SetUnknownKeyWindow(s *Server, d time.Duration) { s.unknown.every = d }

// MaskTTL is how long a masker is trusted over a store without a stamp.
const MaskTTL = maskTTL

// CompactSlack is how many values a masker gains beyond its last full
// build's before it is built again.
const CompactSlack = compactSlack

// WaitMasks waits for the maskers being built again in the background.
func WaitMasks(s *Server) { s.masks.bg.Wait() }
