package natsexec_test

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/natsexec"
	"github.com/prefect-go/prefect/runner"
	"github.com/prefect-go/prefect/task"
)

// A flow run whose tasks a worker runs. The flow program and the worker
// build the same flow (here, in one process, from one function); in
// production the worker is another process, on another machine, serving
// until it is stopped.
func Example() {
	// A JetStream server; in production, nats-server -js.
	dir, err := os.MkdirTemp("", "natsexec-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	ns.ReadyForConnections(-1)

	build := func() *flow.Flow {
		type in struct {
			X int `prefect:"x"`
		}
		square := task.New("square", func(_ context.Context, in in) (int, error) { return in.X * in.X, nil })
		f := flow.New("squares")
		xs := flow.Add(f, task.New("xs", func(context.Context, task.None) ([]int, error) { return []int{1, 2, 3}, nil }))
		flow.Map(f, square, flow.Bind("x", xs))
		return f
	}

	// The worker.
	wc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	defer wc.Close()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- natsexec.Serve(ctx, wc, []*flow.Flow{build()}) }()
	defer func() { stop(); <-served }()

	// The flow program.
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	f := build()
	fs, err := runner.Run(context.Background(), f, runner.WithExecutor(natsexec.Executor(nc, f)))
	if err != nil {
		panic(err)
	}
	fmt.Println(fs.State)
	fmt.Println(fs.Tasks[1].Result)
	// Output:
	// <Success: "All reference tasks succeeded.">
	// [1 4 9]
}

// The main function of a flow program whose runs call their tasks on
// workers: `myflows register` and `myflows execute` as with program.Main,
// plus `myflows worker --nats nats://queue:4222` on the machines that run
// the tasks. (Not run here: Main exits.)
func ExampleProgram() {
	etl := flow.New("etl")
	flow.Add(etl, task.New("extract", func(context.Context, task.None) ([]int, error) { return []int{1, 2, 3}, nil }))
	natsexec.Program([]*flow.Flow{etl}).Main()
}
