package program

import (
	"reflect"

	"github.com/prefect-go/prefect/flow"
)

func reflectNew(p *flow.Param) any { return reflect.New(p.Type).Interface() }

func deref(ptr any) any { return reflect.ValueOf(ptr).Elem().Interface() }
