// Package natstest starts embedded NATS servers with JetStream for tests:
// on a random loopback port, storing in a temporary folder, ready for
// JetStream requests when Start returns, and shut down when the test ends.
//
//	srv := natstest.Start(t)
//	nc, _ := nats.Connect(srv.URL)
package natstest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running embedded server.
type Server struct {
	// URL is its client URL (nats://127.0.0.1:PORT).
	URL string
	// StoreDir is where JetStream keeps its streams.
	StoreDir string

	once sync.Once
	s    *server.Server
}

// Start starts a server, stopped when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		tb.Fatalf("natstest: NewServer: %v", err)
	}
	s.Start()
	srv := &Server{URL: s.ClientURL(), StoreDir: dir, s: s}
	tb.Cleanup(srv.Stop)
	if !s.ReadyForConnections(5 * time.Second) {
		tb.Fatal("natstest: the NATS server did not start")
	}
	if err := WaitJetStream(srv.URL, 10*time.Second); err != nil {
		tb.Fatal(err)
	}
	return srv
}

// Stop shuts the server down and waits for it; later calls do nothing.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.s.Shutdown()
		s.s.WaitForShutdown()
	})
}

// WaitJetStream waits up to limit until the server at url answers
// JetStream requests. A server takes connections before its JetStream is
// ready, and drops the JetStream requests it gets meanwhile: a client
// would wait out its whole timeout for their answers.
func WaitJetStream(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := Ready(url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natstest: JetStream at %s not ready after %v: %w", url, limit, err)
		}
		time.Sleep(20 * time.Millisecond) // readiness is not observable otherwise
	}
}

// Ready asks the server at url, once, for the account's JetStream
// information: nil when JetStream answers.
func Ready(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}
