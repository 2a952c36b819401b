package ccm_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
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

// waitDone waits for as to finish; the bound only turns a hang into a
// failure.
func waitDone(t *testing.T, as *ccm.AsyncSteps, what string) {
	t.Helper()
	select {
	case <-as.Done():
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

// TestStepsGoexitInStep: a step that ends its goroutine (runtime.Goexit,
// as t.FailNow does) fails with InternalError, which its handler sees, and
// the program goes on; it stalled for ever before the fix.
func TestStepsGoexitInStep(t *testing.T) {
	var seen ccm.ErrorName
	as := ccm.NewSteps()
	as.Add(func(*ccm.AsyncSteps, ...any) { runtime.Goexit() }, func(as *ccm.AsyncSteps, err *ccm.Error) {
		seen = err.Name
		as.Success()
	})
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		ext := as.WaitExternal()
		go ext.Success("after")
	}, nil)
	as.Execute(context.Background()) // steps run on goroutines of the engine's
	waitDone(t, as, "program stalled after runtime.Goexit in a step")
	res, err := as.Await()
	if err != nil || len(res) != 1 || res[0] != "after" || seen != ccm.InternalError {
		t.Errorf("res=%v err=%v handler saw %q", res, err, seen)
	}
}

// TestStepsRunMisuseKeepsProgramRunning: Run on a program already
// executed panics, and the program still completes afterwards; it stalled
// before the fix (the waiter count stayed raised, so the program's wake-up
// went to a goroutine that was not waiting).
func TestStepsRunMisuseKeepsProgramRunning(t *testing.T) {
	got := make(chan *ccm.External, 1)
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		got <- as.WaitExternal()
	}, nil)
	as.Execute(context.Background())
	ext := <-got
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_, _ = as.Run(context.Background())
		return false
	}()
	if !panicked {
		t.Fatal("Run on an executed program did not panic")
	}
	ext.Success("x")
	waitDone(t, as, "program stalled after a recovered Run panic")
	if res, err := as.Await(); err != nil || len(res) != 1 || res[0] != "x" {
		t.Errorf("res=%v err=%v", res, err)
	}
}

// TestStepsForEachMapNaNKey: ForEach over a map with a NaN key visits
// every entry (NaN first) instead of letting a reflect panic escape Run;
// it panicked before the fix.
func TestStepsForEachMapNaNKey(t *testing.T) {
	m := map[float64]int{math.NaN(): 1, 2: 2, -1: 3}
	var vals []any
	as := ccm.NewSteps().ForEach(m, func(_ *ccm.AsyncSteps, _, v any) { vals = append(vals, v) })
	if _, err := as.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(vals) != "[1 3 2]" {
		t.Errorf("visited %v, want [1 3 2]", vals)
	}
}

// TestStepsForEachMixedKeysOrder: ForEach visits a map[any] with keys of
// several kinds in one documented order, numbers by value then strings,
// whatever Go's map order; before the fix it sorted every interface key
// by its fmt form (10 before 3).
func TestStepsForEachMixedKeysOrder(t *testing.T) {
	const want = "[3 7 9 10 21 100 15 2 5 8]"
	for range 100 {
		m := map[any]int{10: 0, 9: 0, "5": 0, 3: 0, 21: 0, "15": 0, 7: 0, "8": 0, 100: 0, "2": 0}
		var keys []any
		as := ccm.NewSteps().ForEach(m, func(_ *ccm.AsyncSteps, k, _ any) { keys = append(keys, k) })
		if _, err := as.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(keys); got != want {
			t.Fatalf("visited %s, want %s", got, want)
		}
	}
}

// TestStepsCancelBeforeExecute: Cancel before Execute touches nothing
// while set-up goes on (the race detector checks), and Execute then
// cancels the program before its first step; before the fix the
// cancellation ran at once on another goroutine, racing with Add, and the
// steps ran anyway.
func TestStepsCancelBeforeExecute(t *testing.T) {
	ran := 0
	as := ccm.NewSteps()
	as.Cancel()
	for range 1000 {
		as.Add(func(*ccm.AsyncSteps, ...any) { ran++ }, nil)
	}
	_, err := as.Run(context.Background())
	if ccm.NameOf(err) != ccm.Timeout || !errors.Is(err, context.Canceled) || ran != 0 {
		t.Errorf("err=%v, %d steps ran; want Timeout caused by context.Canceled and none", err, ran)
	}
}

// mutexFree reports whether m admits a new program at once.
func mutexFree(m *ccm.Mutex) error {
	probe := ccm.NewSteps()
	probe.Sync(m, func(*ccm.AsyncSteps, ...any) {}, nil)
	_, err := probe.Run(context.Background())
	return err
}

// TestStepsMutexReleasedOnCancelAtYield: a program cancelled just after
// it entered a Mutex section (the flow yields every 100 steps, so the
// cancel lands between entering and the guarded step for some k) leaves
// the mutex free; before the fix the slot leaked for ever.
func TestStepsMutexReleasedOnCancelAtYield(t *testing.T) {
	for k := 90; k <= 105; k++ {
		m := ccm.NewMutex(1, 0)
		as := ccm.NewSteps()
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Cancel() }, nil)
		for range k {
			as.Add(func(*ccm.AsyncSteps, ...any) {}, nil)
		}
		as.Sync(m, func(*ccm.AsyncSteps, ...any) {}, nil)
		// For small k the program ends before the cancel is handled.
		if _, err := as.Run(context.Background()); err != nil && ccm.NameOf(err) != ccm.Timeout {
			t.Fatalf("k=%d: %v, want success or the cancel's Timeout", k, err)
		}
		if err := mutexFree(m); err != nil {
			t.Errorf("k=%d: mutex still held after the program was cancelled: %v", k, err)
		}
	}
}

// TestStepsMutexReleasedOnParallelFailure: a parallel branch abandoned
// because its sibling failed, just after it entered a Mutex section,
// leaves the mutex free; before the fix the slot leaked for ever.
func TestStepsMutexReleasedOnParallelFailure(t *testing.T) {
	for k := 85; k <= 105; k++ {
		m := ccm.NewMutex(1, 0)
		as := ccm.NewSteps()
		p := as.Parallel(nil)
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			for range k {
				as.Add(func(*ccm.AsyncSteps, ...any) {}, nil)
			}
			as.Sync(m, func(*ccm.AsyncSteps, ...any) {}, nil)
		}, nil)
		p.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("MyError", "boom") }, nil)
		if _, err := as.Run(context.Background()); ccm.NameOf(err) != "MyError" {
			t.Fatalf("k=%d: %v", k, err)
		}
		if err := mutexFree(m); err != nil {
			t.Errorf("k=%d: mutex still held: %v", k, err)
		}
	}
}

// TestStepsLimiterReleasedOnCancelAtYield: the same for a Limiter, whose
// concurrency slot is a Mutex's; it leaked before the fix.
func TestStepsLimiterReleasedOnCancelAtYield(t *testing.T) {
	for k := 90; k <= 105; k++ {
		l := ccm.NewLimiter(ccm.LimiterOptions{Concurrent: 1, Rate: 1000})
		as := ccm.NewSteps()
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Cancel() }, nil)
		for range k {
			as.Add(func(*ccm.AsyncSteps, ...any) {}, nil)
		}
		as.Sync(l, func(*ccm.AsyncSteps, ...any) {}, nil)
		_, _ = as.Run(context.Background())
		probe := ccm.NewSteps()
		probe.Sync(l, func(*ccm.AsyncSteps, ...any) {}, nil)
		if _, err := probe.Run(context.Background()); err != nil {
			t.Errorf("k=%d: limiter slot still held: %v", k, err)
		}
	}
}

// TestStepsAwaitInsideStep: Await called inside one of the program's own
// steps returns an InvokerError at once and the program goes on (both
// when it runs on Run's goroutine and on the engine's); it deadlocked
// before the fix.
func TestStepsAwaitInsideStep(t *testing.T) {
	for _, useRun := range []bool{true, false} {
		var inner error
		as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
			_, inner = as.Await()
			as.Success("after")
		}, nil)
		if useRun {
			done := make(chan struct{})
			go func() { defer close(done); _, _ = as.Run(context.Background()) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Await inside a step deadlocked the program")
			}
		} else {
			as.Execute(context.Background())
			waitDone(t, as, "Await inside a step deadlocked the program")
		}
		res, err := as.Await() // from outside, after the end: the outcome
		if ccm.NameOf(inner) != ccm.InvokerError || err != nil || len(res) != 1 || res[0] != "after" {
			t.Errorf("run=%v: inner Await %v; outcome %v %v", useRun, inner, res, err)
		}
	}
}

// TestStepsWaitExternalWithSubSteps pins the documented rule: a step that
// calls WaitExternal and adds sub-steps completes with them, and a later
// completion through its External is ignored.
func TestStepsWaitExternalWithSubSteps(t *testing.T) {
	var ext *ccm.External
	as := ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		ext = as.WaitExternal()
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Success("sub") }, nil)
	}, nil)
	as.Add(func(as *ccm.AsyncSteps, args ...any) {
		ext.Error("Late", "ignored") // the step above is over
		as.Success(args...)
	}, nil)
	res, err := as.Run(context.Background())
	if err != nil || len(res) != 1 || res[0] != "sub" {
		t.Errorf("res=%v err=%v; want [sub] and no error", res, err)
	}
}
