package vault

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/prefect-go/prefect/internal/redact"
	"github.com/prefect-go/prefect/secrets"
)

// The kinds of failure, for errors.Is. Each error this package returns
// matches one of them (or [secrets.ErrNotFound] for a missing secret), says
// which secret or setting failed, never a value, and wraps its cause.
var (
	// ErrNoAddress: neither VAULT_ADDR nor vault_addr is set (nor, for
	// the store, its address setting).
	ErrNoAddress = errors.New("vault: no address")
	// ErrAuth: the credentials are not one of the supported shapes, or
	// Vault refused them. It matches [secrets.ErrAccessDenied] too; a
	// login that could not reach Vault is not ErrAuth.
	ErrAuth = errors.New("vault: authentication failed")
	// ErrInvalidPath: a task's secret path is not "<mount_point>/<path>".
	ErrInvalidPath = errors.New("vault: invalid secret path")
	// ErrForbidden: Vault answered 403 to reading the secret. It matches
	// [secrets.ErrAccessDenied] too.
	ErrForbidden = errors.New("vault: access forbidden")
	// ErrNotKVv2: the mount read is not a KV version 2 secrets engine
	// (no such mount, or a KV version 1 one), which no secret's absence
	// explains: a misconfiguration, never [secrets.ErrNotFound].
	ErrNotKVv2 = errors.New("vault: not a KV v2 mount")
	// ErrSettings: the store's [secrets.vault] table has an unknown key
	// or a bad value.
	ErrSettings = errors.New("vault: bad setting")
)

// Prefect 1.4.1's messages, word for word (VaultSecret._get_vault_secret),
// so that a flow's failure reads as it did in Python; "autheticate" is
// Prefect's spelling.
const (
	msgNoAddress   = `VAULT_ADDR url var not found. Either "VAULT_ADDR" or "vault_addr" env var required.`
	msgUnsupported = "Unable to authenticate with vault service.  Supported methods: token, appRole and kubernetesRole"
	msgRefused     = "Unable to autheticate with vault using supplied credentials"
)

// Error is the error of a Vault operation: a message that names the secret
// or setting concerned, the kind of failure (one of the Err* variables, or
// secrets.ErrNotFound) and the cause, if any. Its text is the message
// followed by a one-line account of the cause; neither holds a value.
type Error struct {
	// Kind is what errors.Is matches besides the cause; nil for a
	// failure of no particular kind (Vault unreachable, say).
	Kind error
	// Msg is the message, Prefect's where it has one.
	Msg string
	// Err is the cause, or nil.
	Err error

	terse bool // Msg alone is the text: Prefect's message, word for word
}

var _ error = (*Error)(nil)

// Error returns the message and, after a colon, the cause.
func (e *Error) Error() string {
	if e.Err == nil || e.terse {
		return e.Msg
	}
	return e.Msg + ": " + describe(e.Err)
}

// Unwrap returns the kind and the cause, so that errors.Is matches both
// and errors.As finds the cause (an *api.ResponseError, say); a refusal
// ([ErrAuth], [ErrForbidden]) also matches [secrets.ErrAccessDenied], so
// that a cache never serves a stale value through revoked access.
func (e *Error) Unwrap() []error {
	var denied error
	if e.Kind == ErrAuth || e.Kind == ErrForbidden {
		denied = secrets.ErrAccessDenied
	}
	var errs []error
	for _, err := range []error{e.Kind, denied, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// describe renders err on one line: Vault's answers span several
// ("Error making API request.\n\nURL: ...\nCode: 403. Errors:\n\n* ...",
// and an error of Vault's own may, "1 error occurred:\n\t* permission
// denied\n"), whose lines it joins with "; ". Neither Vault's error texts
// nor its URLs hold a secret's value: the URL carries the path, the value
// travels in bodies. An address's userinfo (a password) is hidden.
func describe(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		where := redact.URL(re.URL)
		if u, perr := url.Parse(re.URL); perr == nil {
			where = u.Path
		}
		s := fmt.Sprintf("%s %s: HTTP %d", re.HTTPMethod, where, re.StatusCode)
		var texts []string
		for _, e := range re.Errors {
			if t := oneLine(e); t != "" {
				texts = append(texts, t)
			}
		}
		if len(texts) > 0 {
			s += ": " + strings.Join(texts, "; ")
		}
		return s
	}
	return oneLine(err.Error())
}

// oneLine joins the non-blank lines of s with "; ", each with its runs
// of spaces made one, and hides the userinfo of any address in it.
func oneLine(s string) string {
	var lines []string
	for line := range strings.Lines(s) {
		words := strings.Fields(line)
		for i, w := range words {
			if strings.Contains(w, "://") && strings.Contains(w, "@") {
				words[i] = redact.URL(w)
			}
		}
		if len(words) > 0 {
			lines = append(lines, strings.Join(words, " "))
		}
	}
	return strings.Join(lines, "; ")
}
