package ccm_test

import (
	"context"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
)

// Regression tests for the findings of the review of the AsyncSteps
// facade; each failed before its fix.

// TestStepsReplacedTimeoutIsStale: a timeout replaced by SetTimeout never
// fails the step, even when the replaced timer had already fired and its
// firing was queued behind the running step; it failed before the fix.
func TestStepsReplacedTimeoutIsStale(t *testing.T) {
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(time.Millisecond)
		time.Sleep(30 * time.Millisecond) // the first timer fires meanwhile
		as.SetTimeout(time.Hour)          // and is replaced
		ext := as.WaitExternal()
		go func() { time.Sleep(10 * time.Millisecond); ext.Success("ok") }()
	}, nil)
	res, err := as.Run(context.Background())
	if err != nil || len(res) != 1 || res[0] != "ok" {
		t.Fatalf("replaced timer still raised: res=%v err=%v", res, err)
	}
}

// TestStepsStoppedTimeoutIsStale: when an error handler recovers by adding
// steps, the failed step's timer is stopped, and a firing of it already
// queued does not fail the replacement steps; it failed before the fix.
func TestStepsStoppedTimeoutIsStale(t *testing.T) {
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(time.Millisecond)
		as.Add(func(as *ccm.AsyncSteps, _ ...any) {
			time.Sleep(30 * time.Millisecond) // the parent's timer fires meanwhile
			as.Error("E", "sub failed")
		}, nil)
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		if err.Name != "E" {
			return
		}
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { // replacement step
			ext := as.WaitExternal()
			go func() { time.Sleep(10 * time.Millisecond); ext.Success("recovered") }()
		}, nil)
	})
	res, err := as.Run(context.Background())
	if err != nil || len(res) != 1 || res[0] != "recovered" {
		t.Fatalf("stale timeout failed the replacement steps: res=%v err=%v", res, err)
	}
}

// TestStepsLastExceptionIsPanicValue: after a step panics, the error
// handler finds the panic value itself in State()[StateLastException], as
// documented, and the *Error in its argument; it failed before the fix.
func TestStepsLastExceptionIsPanicValue(t *testing.T) {
	type boom struct{ n int }
	var seen any
	var name ccm.ErrorName
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		panic(boom{7})
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		seen, name = as.State()[ccm.StateLastException], err.Name
		as.Success()
	})
	if _, err := as.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, ok := seen.(boom); !ok || b.n != 7 || name != ccm.InternalError {
		t.Errorf("last_exception = %#v, error %s; want boom{7} and InternalError", seen, name)
	}
}
