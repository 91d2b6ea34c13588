package redact

import "testing"

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/graphql", "https://api.example.com/graphql"},
		{"https://u:p4ss@api.example.com/graphql", "https://********@api.example.com/graphql"},
		{"https://u:pa%zz@h/graphql", "https://********@h/graphql"}, // does not parse
		{"https://u:p@ss@h/graphql", "https://********@h/graphql"},  // '@' in the password
		{"https://u:p/ss@h/graphql", "https://********@h/graphql"},  // '/' in the password
		{"u:pa%zz@h", "********@h"},                                 // no scheme
		{"127.0.0.1:4200/graphql", "127.0.0.1:4200/graphql"},        // no userinfo
		{"http://h/graphql?next=a@b", "http://h/graphql?next=a@b"},  // '@' in the query only
		{"postgres://app:s3cr3t@db:5432/prefect", "postgres://********@db:5432/prefect"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
