package sensitive_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/prefect-go/prefect/secrets/sensitive"
)

// A Value prints as ******** wherever it goes; only Reveal hands out the
// secret.
func Example() {
	token := sensitive.NewValue("hunter2")
	fmt.Println(token)
	fmt.Printf("%v %+v %#v %q\n", token, token, token, token)
	b, _ := json.Marshal(map[string]any{"token": token})
	fmt.Println(string(b))
	// Drop the time so that the output is the same on every run.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})).Info("connecting", "token", token)
	fmt.Println(token.Reveal())
	// Output:
	// ********
	// ******** ******** ******** "********"
	// {"token":"********"}
	// level=INFO msg=connecting token=********
	// hunter2
}

// Find reaches the Values inside a result, wherever they sit.
func ExampleFind() {
	type conn struct {
		Host     string
		Password sensitive.Value
	}
	result := map[string]any{"primary": conn{"db1", sensitive.NewValue("s3cr3t-1")}, "replicas": []conn{{"db2", sensitive.NewValue("s3cr3t-2")}}}
	n := 0
	sensitive.Find(result, func(sensitive.Value) { n++ })
	fmt.Println(n, "secrets in", result)
	// Output:
	// 2 secrets in map[primary:{db1 ********} replicas:[{db2 ********}]]
}

// Decode and As convert a secret held as JSON (a table, a number) into Go
// types, without ever quoting it in their errors.
func ExampleAs() {
	creds := sensitive.NewValue(map[string]any{"user": "app", "port": 5432})
	type dsn struct {
		User string `json:"user"`
		Port int    `json:"port"`
	}
	d, err := sensitive.As[dsn](creds)
	fmt.Println(d, err)
	_, err = sensitive.As[int](sensitive.NewValue("not-a-number"))
	fmt.Println(err)
	// Output:
	// {app 5432} <nil>
	// secrets: a secret of type string cannot be decoded into int
}
