package config

import (
	"math"
	"reflect"
	"time"
)

// sameTOML compares what the reader and BurntSushi make of one file: NaN
// equals NaN, times compare by instant and zone name, BurntSushi's arrays of
// tables ([]map[string]any) equal our []any of maps.
func sameTOML(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameTOML(v, w) {
				return false
			}
		}
		return true
	case []any:
		var ys []any
		switch y := b.(type) {
		case []any:
			ys = y
		case []map[string]any:
			for _, m := range y {
				ys = append(ys, m)
			}
		default:
			return false
		}
		if len(x) != len(ys) {
			return false
		}
		for i := range x {
			if !sameTOML(x[i], ys[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y))
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && x.Location().String() == y.Location().String()
	}
	return reflect.DeepEqual(a, b)
}
