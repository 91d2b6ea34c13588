package redact

import (
	"net/url"
	"strings"
)

// URL returns s, an address from configuration or a flag, with its
// userinfo (user and password, "https://user:pass@host") replaced by
// Marker, for messages. Unlike url.URL.Redacted it works on addresses
// that do not parse, which error messages quote most often, and it hides
// the user too.
func URL(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		scheme = -3 // "user:pass@host/path", the rest as it is
	} else if u, err := url.Parse(s); err == nil && u.User == nil {
		return s
	}
	rest := s[scheme+3:]
	// The userinfo ends at the last '@' before the path; a password may
	// hold '@' itself, unescaped, in an address that does not parse.
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		at = strings.LastIndex(rest, "@") // '/' in the password
		if at < 0 {
			return s
		}
	}
	return s[:scheme+3] + Marker + rest[at:]
}
