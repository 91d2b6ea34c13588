package state_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prefect-go/prefect/state"
)

// The predicates answer for a whole branch of the hierarchy: a flow run
// being cancelled is still running, a cached result is a success, and a
// run an agent claimed is neither pending nor finished yet.
func ExampleKind() {
	for _, k := range []state.Kind{state.Retrying, state.Submitted, state.Cancelling, state.Cached, state.TriggerFailed} {
		fmt.Printf("%-13v pending=%-5v running=%-5v finished=%-5v successful=%v\n",
			k, k.IsPending(), k.IsRunning(), k.IsFinished(), k.IsSuccessful())
	}
	// Output:
	// Retrying      pending=true  running=false finished=false successful=false
	// Submitted     pending=false running=false finished=false successful=false
	// Cancelling    pending=false running=true  finished=false successful=false
	// Cached        pending=false running=false finished=true  successful=true
	// TriggerFailed pending=false running=false finished=true  successful=false
}

// A kind is written and read by its Prefect name, in JSON too; any other
// name is refused with the list of valid ones.
func ExampleParseKind() {
	k, err := state.ParseKind("Cancelling")
	fmt.Println(k, err)

	b, _ := json.Marshal(map[string]state.Kind{"state": state.Submitted})
	fmt.Println(string(b))

	_, err = state.ParseKind("Done")
	fmt.Println(errors.Is(err, state.ErrUnknownKind))
	fmt.Println(err)
	// Output:
	// Cancelling <nil>
	// {"state":"Submitted"}
	// true
	// unknown state "Done": want one of Pending, Scheduled, Paused, Retrying, Running, Success, Cached, Mapped, Skipped, Failed, TimedOut, TriggerFailed, Cancelled, Submitted, Cancelling, Queued, ClientFailed, Resume, Looped, ValidationFailed
}
