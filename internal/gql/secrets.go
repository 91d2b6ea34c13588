package gql

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/prefect-go/prefect/internal/python"
	"github.com/prefect-go/prefect/internal/redact"
)

// The secret operations, as Prefect 1's Python client writes them.
const (
	setSecretMutation    = `mutation($input: set_secret_input!) { set_secret(input: $input) { success } }`
	deleteSecretMutation = `mutation($input: delete_secret_input!) { delete_secret(input: $input) { success } }`
	secretValueQuery     = `query($name: String!) { secret_value(name: $name) }`
	secretNamesQuery     = `query { secret_names }`
)

// NotFoundText is how the API says that a secret does not exist; Prefect's
// client looks for the same text.
const NotFoundText = "No value found for the requested key"

// MissingError is the server's answer that it holds no secret of the name
// asked for: an error saying [NotFoundText] (not an authentication
// failure). Callers turn it into their not-found error.
type MissingError struct {
	// Answer is the API's error, as Options.NewError made it.
	Answer error
}

// Error says that the server has no such secret.
func (e *MissingError) Error() string {
	if e.Answer == nil {
		return "the server has no such secret"
	}
	return "the server has no such secret: " + e.Answer.Error()
}

// Unwrap returns the API's answer.
func (e *MissingError) Unwrap() error { return e.Answer }

// missing turns the API's "no value found" into a *MissingError and passes
// any other error on.
func missing(api *Error, err error) error {
	if err == nil || api == nil || !api.Says(NotFoundText) || api.Unauthenticated() {
		return err
	}
	return &MissingError{Answer: err}
}

// SecretValue returns the value of the secret called name as JSON decodes
// it: a string, a number (int when integral, else float64), a
// map[string]any, a []any, or nil for a stored null (a value, as Prefect's
// client returns None for it). A missing secret is a *MissingError.
func (c *Client) SecretValue(ctx context.Context, name string) (any, error) {
	data, api, err := c.do(ctx, secretValueQuery, map[string]any{"name": name}, c.mask)
	if err != nil {
		return nil, missing(api, err)
	}
	raw, ok := data["secret_value"]
	if !ok {
		return nil, errors.New("malformed answer: no secret_value in its data")
	}
	if IsNull(raw) {
		return nil, nil
	}
	v, err := python.DecodeJSON(raw)
	if err != nil {
		return nil, errors.New("the API's secret_value is not valid JSON")
	}
	return v, nil
}

// SecretNames lists the names of the server's secrets, never their values.
func (c *Client) SecretNames(ctx context.Context) ([]string, error) {
	data, err := c.Do(ctx, secretNamesQuery, nil, c.mask)
	if err != nil {
		return nil, err
	}
	var names []string
	if raw := data["secret_names"]; !IsNull(raw) {
		if err := json.Unmarshal(raw, &names); err != nil {
			return nil, errors.New("the API's secret_names is not a list of names")
		}
	}
	return names, nil
}

// SetSecret stores value, JSON text, as the secret called name; m masks
// the messages of API errors (the key and the value's pieces). The
// server's "success: false" is Prefect's error "Setting secret failed.".
func (c *Client) SetSecret(ctx context.Context, name string, value json.RawMessage, m *redact.Masker) error {
	vars := map[string]any{"input": map[string]any{"name": name, "value": value}}
	data, err := c.Do(ctx, setSecretMutation, vars, m)
	if err != nil {
		return err
	}
	if !succeeded(data, "set_secret") {
		return errors.New("Setting secret failed.")
	}
	return nil
}

// DeleteSecret deletes the secret called name. A missing secret is a
// *MissingError when the server says so; "success: false" is the error
// "Deleting secret failed.".
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	vars := map[string]any{"input": map[string]any{"name": name}}
	data, api, err := c.do(ctx, deleteSecretMutation, vars, c.mask)
	if err != nil {
		return missing(api, err)
	}
	if !succeeded(data, "delete_secret") {
		return errors.New("Deleting secret failed.")
	}
	return nil
}

func succeeded(data map[string]json.RawMessage, field string) bool {
	var out struct {
		Success bool `json:"success"`
	}
	return json.Unmarshal(data[field], &out) == nil && out.Success
}
