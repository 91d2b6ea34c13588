package vault

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// The kinds of failure, for errors.Is. Each error this package returns
// matches one of them (or [secrets.ErrNotFound] for a missing secret), says
// which secret or setting failed, never a value, and wraps its cause.
var (
	// ErrNoAddress: neither VAULT_ADDR nor vault_addr is set (nor, for
	// the store, its address setting).
	ErrNoAddress = errors.New("vault: no address")
	// ErrAuth: the credentials are not one of the supported shapes, or
	// Vault refused them.
	ErrAuth = errors.New("vault: authentication failed")
	// ErrInvalidPath: a task's secret path is not "<mount_point>/<path>".
	ErrInvalidPath = errors.New("vault: invalid secret path")
	// ErrForbidden: Vault answered 403 to reading the secret.
	ErrForbidden = errors.New("vault: access forbidden")
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
// and errors.As finds the cause (an *api.ResponseError, say).
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// describe renders err on one line: Vault's answers span several
// ("Error making API request.\n\nURL: ...\nCode: 403. Errors:\n\n* ...").
// Neither Vault's error texts nor its URLs hold a secret's value: the URL
// carries the path, the value travels in bodies.
func describe(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		where := re.URL
		if u, perr := url.Parse(re.URL); perr == nil {
			where = u.Path
		}
		s := fmt.Sprintf("%s %s: HTTP %d", re.HTTPMethod, where, re.StatusCode)
		if len(re.Errors) > 0 {
			s += ": " + strings.Join(re.Errors, "; ")
		}
		return s
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
