package baotest_test

import (
	"context"
	"testing"

	"github.com/prefect-go/prefect/internal/baotest"
)

func TestMain(m *testing.M) { baotest.Main(m) }

func TestStartServesKVv2(t *testing.T) {
	srv := baotest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.KVv2("secret").Put(ctx, "baotest/x", map[string]any{"k": "v"}); err != nil {
		t.Fatalf("writing a KV v2 secret: %v", err)
	}
	s, err := c.KVv2("secret").Get(ctx, "baotest/x")
	if err != nil || s.Data["k"] != "v" {
		t.Fatalf("reading it back: %v, %v", s, err)
	}
}
