package program_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/prefect-go/prefect/flow"
	"github.com/prefect-go/prefect/program"
	"github.com/prefect-go/prefect/task"
	"github.com/prefect-go/prefect/tasks"
)

// Describe is what register sends of a flow: its tasks with their
// upstream tasks, and its parameters.
func ExampleDescribe() {
	type useIn struct {
		Credentials string `prefect:"credentials"`
		N           int    `prefect:"n"`
	}
	f := flow.New("pipeline")
	secret := flow.Add(f, tasks.PrefectSecret("MYSECRET"))
	n := flow.Parameter(f, "n", flow.WithDefault(1))
	flow.Add(f, task.New("use", func(context.Context, useIn) (int, error) { return 0, nil }),
		flow.Bind("credentials", secret), flow.Bind("n", n))

	def, err := program.Describe(f)
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(def, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "name": "pipeline",
	//   "tasks": [
	//     {
	//       "slug": "MYSECRET-1",
	//       "name": "MYSECRET",
	//       "secret": true
	//     },
	//     {
	//       "slug": "n",
	//       "name": "n"
	//     },
	//     {
	//       "slug": "use-1",
	//       "name": "use",
	//       "upstream": [
	//         "MYSECRET-1",
	//         "n"
	//       ]
	//     }
	//   ],
	//   "parameters": [
	//     {
	//       "name": "n",
	//       "type": "int",
	//       "required": false
	//     }
	//   ],
	//   "reference_tasks": [
	//     "use-1"
	//   ]
	// }
}
