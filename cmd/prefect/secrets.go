package main

// prefect secrets: set, get, list and delete the secrets of the secret
// server named by the configuration (cloud.api, cloud.api_key,
// cloud.tenant_id; see package config).
//
//	prefect secrets set NAME [--value V | --from-file PATH] [--json]
//	prefect secrets get NAME
//	prefect secrets list [--limit N] [--after NAME]
//	prefect secrets delete NAME
//
// set reads the value from stdin when neither --value nor --from-file is
// given (all of it, less one trailing newline); --from-file takes the file's
// bytes as they are. The value is stored as a JSON string, or with --json
// as the JSON value it must be. A value is printed nowhere but on get's
// stdout, and the API key nowhere at all.
//
// list prints the names, sorted, one a line, as it reads them a page at a
// time (client.AllSecretNames): its memory holds one page however many
// secrets there are. --limit N stops after N names, saying on stderr how
// to list the rest when more follow; --after NAME starts after NAME.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/prefect-go/prefect/client"
)

// stdin is where "secrets set" reads a value given neither by --value nor
// by --from-file.
var stdin io.Reader = os.Stdin

const secretsSubcommands = "set, get, list, delete"

func secretsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{msg: "secrets needs a subcommand; valid ones are " + secretsSubcommands}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "set":
		return withUsage("secrets set", secretsSet(ctx, rest, stderr))
	case "get":
		return withUsage("secrets get", secretsGet(ctx, rest, stdout))
	case "list":
		return withUsage("secrets list", secretsList(ctx, rest, stdout, stderr))
	case "delete":
		return withUsage("secrets delete", secretsDelete(ctx, rest, stderr))
	}
	if isHelp(sub) {
		return groupHelp("secrets")
	}
	return usageError{msg: fmt.Sprintf("unknown secrets subcommand %q; valid ones are %s", sub, secretsSubcommands)}
}

// oneName parses args, which must hold exactly one NAME among the flags.
func oneName(fs *flag.FlagSet, args []string, usage string) (string, error) {
	rest, err := parse(fs, args)
	if ue := (usageError{}); errors.As(err, &ue) && ue.help {
		return "", err
	}
	if err != nil {
		return "", usageError{msg: fmt.Sprintf("secrets %s: %v; usage: prefect secrets %s", fs.Name(), err, usage)}
	}
	switch {
	case len(rest) == 0:
		return "", usageError{msg: fmt.Sprintf("secrets %s needs a secret NAME; usage: prefect secrets %s", fs.Name(), usage)}
	case len(rest) > 1:
		return "", usageError{msg: fmt.Sprintf("secrets %s takes one NAME, not %d arguments; usage: prefect secrets %s", fs.Name(), len(rest), usage)}
	case strings.TrimSpace(rest[0]) == "":
		return "", usageError{msg: fmt.Sprintf("secrets %s: the secret NAME is empty", fs.Name())}
	}
	return rest[0], nil
}

func secretsSet(ctx context.Context, args []string, stderr io.Writer) error {
	const usage = "set NAME [--value V | --from-file PATH] [--json]"
	fs := flag.NewFlagSet("set", flag.ContinueOnError)
	value := fs.String("value", "", "the value (lands in shell history; prefer stdin or --from-file)")
	file := fs.String("from-file", "", "read the value from this file, as it is")
	asJSON := fs.Bool("json", false, "the value is JSON, stored as the value it denotes")
	name, err := oneName(fs, args, usage)
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["value"] && given["from-file"] {
		return usageError{msg: "secrets set: give --value or --from-file, not both (or neither, to read stdin); usage: prefect secrets " + usage}
	}

	var text string
	switch {
	case given["value"]:
		fmt.Fprintln(stderr, "prefect: warning: --value leaves the secret in your shell history and the process list; prefer --from-file PATH or stdin")
		text = *value
	case given["from-file"]:
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("secrets set: reading the value: %w", err)
		}
		text = string(b)
	default:
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(stderr, "prefect: reading the value of", name, "from stdin; end it with Ctrl-D")
			}
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("secrets set: reading the value from stdin: %w", err)
		}
		text = string(b)
		if strings.HasSuffix(text, "\r\n") {
			text = text[:len(text)-2]
		} else {
			text = strings.TrimSuffix(text, "\n")
		}
	}
	if !utf8.ValidString(text) {
		return errors.New("secrets set: the value is not valid UTF-8 text; a secret is stored as JSON, which holds text only")
	}

	var v any = text
	if *asJSON {
		if v, err = parseJSON(text); err != nil {
			return fmt.Errorf("secrets set --json: %w", err)
		}
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if err := c.SetSecret(ctx, name, v); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "prefect: secret %s set\n", name)
	return nil
}

// parseJSON decodes one JSON value, keeping numbers as they are written.
// Its errors say where the problem is, never what the text holds.
func parseJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("the value is empty, not JSON")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("the value is not valid JSON: it ends early")
		case errors.As(err, &syn):
			return nil, fmt.Errorf("the value is not valid JSON: syntax error at byte %d", syn.Offset)
		}
		return nil, errors.New("the value is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the value is not valid JSON: more follows the first value at byte %d", dec.InputOffset())
	}
	if v == nil {
		return nil, errors.New("the value is JSON null; a secret must hold some other JSON value")
	}
	return v, nil
}

func secretsGet(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	name, err := oneName(fs, args, "get NAME")
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	v, err := c.SecretValue(ctx, name)
	if err != nil {
		return err
	}
	var out []byte
	if s, ok := v.(string); ok {
		out = []byte(s + "\n")
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf) // compact, newline-terminated
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("secret %s: its value (a %T) cannot be printed as JSON", name, v)
		}
		out = buf.Bytes()
	}
	_, err = stdout.Write(out)
	return err
}

func secretsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "list [--limit N] [--after NAME]"
	fs := flag.NewFlagSet("secrets list", flag.ContinueOnError)
	limit := fs.Int("limit", 0, "print at most this many names; 0 for all")
	after := fs.String("after", "", "start after this name (the last one a list printed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 0 {
		return usageError{msg: fmt.Sprintf("secrets list: --limit %d: want 0 (all) or more; usage: prefect secrets %s", *limit, usage)}
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	return listNames(ctx, c, *after, *limit, stdout, stderr)
}

// listNames prints the names after after, up to limit of them (0: all),
// reading them a page at a time. When limit stops it before the end, it
// says on stderr how to list the rest.
func listNames(ctx context.Context, c *client.Client, after string, limit int, stdout, stderr io.Writer) error {
	// The largest pages the server gives; under a limit, one name more
	// than it, so that the page that fills the limit also tells whether
	// more follow.
	page := client.MaxPageSize
	if limit > 0 && limit < page {
		page = limit + 1
	}
	w := bufio.NewWriter(stdout)
	printed, last := 0, ""
	for name, err := range c.AllSecretNames(ctx, after, page) {
		if err != nil {
			w.Flush()
			return err
		}
		if limit > 0 && printed == limit {
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "prefect: more secrets follow; list them with --after %s\n", last)
			return nil
		}
		if _, err := fmt.Fprintln(w, name); err != nil {
			return err
		}
		printed, last = printed+1, name
	}
	return w.Flush()
}

func secretsDelete(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	name, err := oneName(fs, args, "delete NAME")
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if err := c.DeleteSecret(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "prefect: secret %s deleted\n", name)
	return nil
}
