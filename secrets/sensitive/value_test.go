package sensitive_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"text/template"

	"github.com/prefect-go/prefect/secrets/sensitive"
)

const leak = "hunter2-but-longer"

func TestValueNeverPrints(t *testing.T) {
	v := sensitive.NewValue(leak)
	type wrapper struct {
		Token sensitive.Value
		Name  string
	}
	w := wrapper{Token: v, Name: "x"}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs["fmt "+verb] = fmt.Sprintf(verb, v)
		outputs["fmt struct "+verb] = fmt.Sprintf(verb, w)
		outputs["fmt pointer "+verb] = fmt.Sprintf(verb, &w)
	}
	outputs["Sprint"] = fmt.Sprint(v, []sensitive.Value{v}, map[string]sensitive.Value{"k": v})
	outputs["String"] = v.String()
	outputs["GoString"] = v.GoString()
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "token", v, "w", w)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "token", v, "w", w)
	outputs["slog"] = buf.String()
	buf.Reset()
	if err := template.Must(template.New("t").Parse("{{.Token}} {{.}} {{printf \"%v\" .Token}}")).Execute(&buf, w); err != nil {
		t.Fatal(err)
	}
	outputs["template"] = buf.String()
	outputs["error"] = fmt.Errorf("connecting with %v: %w", v, errors.New("refused")).Error()
	for where, out := range outputs {
		if strings.Contains(out, leak) {
			t.Errorf("%s shows the secret: %s", where, out)
		}
		if where != "fmt %T" && where != "fmt struct %T" && where != "fmt pointer %T" && !strings.Contains(out, sensitive.Redacted) && !strings.Contains(out, "2a2a2a") {
			t.Errorf("%s shows no redaction marker: %s", where, out)
		}
	}
	if v.Reveal() != leak {
		t.Errorf("Reveal() returned a different value")
	}
}

func TestValueDecode(t *testing.T) {
	tests := []struct {
		name string
		v    any
		into func() (any, error)
	}{
		{"string", "abc", func() (any, error) { return sensitive.As[string](sensitive.NewValue("abc")) }},
		{"int from int", 7, func() (any, error) { return sensitive.As[int](sensitive.NewValue(7)) }},
		{"int from float", 7.0, func() (any, error) { return sensitive.As[int](sensitive.NewValue(7.0)) }},
		{"table into struct", nil, func() (any, error) {
			type creds struct{ User, Password string }
			c, err := sensitive.As[creds](sensitive.NewValue(map[string]any{"User": "u", "Password": "p"}))
			return c.User + ":" + c.Password, err
		}},
	}
	want := map[string]any{"string": "abc", "int from int": 7, "int from float": 7, "table into struct": "u:p"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.into()
			if err != nil {
				t.Fatal(err)
			}
			if got != want[tt.name] {
				t.Errorf("got %v, want %v", got, want[tt.name])
			}
		})
	}
	_, err := sensitive.As[int](sensitive.NewValue(leak))
	if err == nil || strings.Contains(err.Error(), leak) {
		t.Errorf("decoding a non-number into int: err = %v; want an error without the value", err)
	}
}
