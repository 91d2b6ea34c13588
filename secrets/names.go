package secrets

import (
	"encoding/json"
	"strings"
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
// text s (an environment variable's value, a stored secret): s itself
// and, when s is a JSON table or list, every value inside it as a run
// decodes it ([Value.RevealAll]: pieces shorter than four bytes are left
// out), which a printout may show apart from the whole. An empty s has
// none.
func Pieces(s string) []string {
	if s == "" {
		return nil
	}
	out := []string{s}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		dec := json.NewDecoder(strings.NewReader(t))
		dec.UseNumber()
		var x any
		if dec.Decode(&x) == nil {
			out = append(out, NewValue(x).RevealAll()...)
		}
	}
	return out
}
