package secrets

import (
	"strings"

	"github.com/prefect-go/prefect/internal/python"
)

// SensitiveName reports whether an environment variable called name holds a
// secret by its name: Prefect's local secrets (PREFECT__CONTEXT__SECRETS__*)
// and names ending in KEY, TOKEN, SECRET, PASSWORD, PASSWD or CREDENTIALS,
// in any case (PREFECT__CLOUD__API_KEY, AWS_SECRET_ACCESS_KEY,
// GITHUB_TOKEN, PGPASSWORD; PREFECT__CLOUD__USE_LOCAL_SECRETS ends in
// SECRETS and is not one). The agent masks the values of such variables in
// what a flow-run process prints, the secret server in what runs write,
// and the commands warn when one is passed with --env.
func SensitiveName(name string) bool {
	if strings.HasPrefix(name, EnvVar("")) {
		return true
	}
	u := strings.ToUpper(name)
	for _, s := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS"} {
		if strings.HasSuffix(u, s) {
			return true
		}
	}
	return false
}

// Pieces returns the texts a masker must hide for a secret held as the
// text s (an environment variable's value, a stored secret): s itself and
// what a run holds of it once decoded by Prefect's rule (a text that
// parses as JSON is decoded, as the run's resolver does): a JSON string's
// text ('"p4ss"' is held as p4ss), a number written otherwise (" 42 "),
// and, for a table or list, its compact JSON and every value inside it
// ([Value.RevealAll]), which a printout may show apart from the whole.
// What decoding yields is a piece of s: left out when shorter than four
// bytes, as RevealAll leaves out short pieces, and when true, false or
// null. An empty s has none.
func Pieces(s string) []string {
	if s == "" {
		return nil
	}
	out := []string{s}
	x, err := python.DecodeJSON([]byte(s))
	if err != nil {
		return out
	}
	switch x.(type) {
	case map[string]any, []any:
		return append(out, NewValue(x).RevealAll()...)
	case bool, nil:
		return out
	}
	if d := NewValue(x).Reveal(); len(d) >= 4 && d != s {
		out = append(out, d)
	}
	return out
}
