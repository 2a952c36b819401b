package stage_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

const fn = "example.calc:1.2:add"

// The await tests run in a synctest bubble: timers follow a fake clock that
// jumps forward when every goroutine of the bubble is blocked, so a 30 s
// timeout takes no real time and its outcome is deterministic.

// bubble runs f as subtest name inside its own synctest bubble.
func bubble(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) { synctest.Test(t, f) })
}

func TestAwaitDeadline(t *testing.T) {
	{
		bubble(t, "timeout earlier than ctx", func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			c := pipeline.NewCall(ctx, fn, nil)
			is.NoErr(stage.Await(time.Second)(c))
			is.True(c.Deadline.Equal(time.Now().Add(time.Second))) // min(ctx, now+timeout)
			c.Complete(nil, nil)
		})
		bubble(t, "ctx earlier than timeout", func(t *testing.T) {
			is := is.New(t)
			dl := time.Now().Add(100 * time.Millisecond)
			ctx, cancel := context.WithDeadline(context.Background(), dl)
			defer cancel()
			c := pipeline.NewCall(ctx, fn, nil)
			is.NoErr(stage.Await(time.Hour)(c))
			is.True(c.Deadline.Equal(dl))
			c.Complete(nil, nil)
		})
		bubble(t, "no timeout", func(t *testing.T) {
			is := is.New(t)
			c := pipeline.NewCall(context.Background(), fn, nil)
			is.NoErr(stage.Await(0)(c))
			is.True(c.Deadline.IsZero()) // the context alone decides, and it has none
			time.Sleep(24 * time.Hour)
			is.True(!c.IsDone())
			c.Complete(nil, nil)
		})
	}
}

func TestAwaitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), fn, nil)
		start := time.Now()
		is.NoErr(stage.Await(5 * time.Second)(c))
		_, err := c.Wait()                         // nobody answers
		is.Equal(time.Since(start), 5*time.Second) // fired at the timeout (fake clock)
		is.True(errors.Is(err, pipeline.ErrTimeout))
		is.True(!errors.Is(err, context.DeadlineExceeded)) // the ctx did not end
	})
}

func TestAwaitContext(t *testing.T) {
	{
		bubble(t, "cancel", func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithCancel(context.Background())
			c := pipeline.NewCall(ctx, fn, nil)
			is.NoErr(stage.Await(time.Hour)(c))
			cancel()
			_, err := c.Wait()
			is.True(errors.Is(err, pipeline.ErrTimeout))
			is.True(errors.Is(err, context.Canceled)) // the cause stays reachable
		})
		bubble(t, "deadline", func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c := pipeline.NewCall(ctx, fn, nil)
			start := time.Now()
			is.NoErr(stage.Await(time.Hour)(c))
			_, err := c.Wait()
			is.Equal(time.Since(start), 2*time.Second)
			is.True(errors.Is(err, pipeline.ErrTimeout))
			is.True(errors.Is(err, context.DeadlineExceeded))
		})
		bubble(t, "already cancelled", func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			c := pipeline.NewCall(ctx, fn, nil)
			err := stage.Await(time.Hour)(c)
			is.True(errors.Is(err, context.Canceled)) // returned, for the pipeline to fail the call
			is.True(!c.IsDone())                      // a transform does not complete calls itself
		})
	}
}

func TestAwaitLaterAttemptsUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := pipeline.NewCall(ctx, fn, nil)
		c.Attempt = 1
		is.NoErr(stage.Await(time.Millisecond)(c))
		is.True(c.Deadline.IsZero()) // not re-armed: the deadline covers every attempt
		cancel()
		time.Sleep(time.Hour)
		synctest.Wait()
		is.True(!c.IsDone()) // no timer, no context watch
		c.Complete(nil, nil)
	})
}

func TestAwaitCompletionWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := pipeline.NewCall(ctx, fn, nil)
		is.NoErr(stage.Await(time.Second)(c))
		is.True(c.Complete("answer", nil))
		cancel()
		time.Sleep(time.Hour) // past the timeout
		synctest.Wait()
		res, err := c.Result()
		is.NoErr(err)
		is.Equal(res, "answer") // no late completion replaced it
	})
}

// TestAwaitCompletionDisarms: completing the call stops the timer and the
// context watch, which otherwise keep the call reachable (from the runtime
// timer heap and from the context's children) until they fire.
//
// The runtime sweeps stopped timers out of its heaps lazily, and timers
// left behind by other tests can postpone that sweep for seconds, so the
// check runs in a fresh process of this test binary.
func TestAwaitCompletionDisarms(t *testing.T) {
	if os.Getenv("STAGE_TEST_DISARM_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAwaitCompletionDisarms$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "STAGE_TEST_DISARM_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestAwaitCompletionDisarms/timer") {
			t.Fatalf("the check did not run:\n%s", out)
		}
		return
	}
	collectable := func(t *testing.T, timeout time.Duration) bool {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := pipeline.NewCall(ctx, fn, nil)
		if err := stage.Await(timeout)(c); err != nil {
			t.Fatal(err)
		}
		c.Complete(nil, nil)
		wp := weak.Make(c)
		c = nil
		// A stopped timer stays in its P's heap, marked deleted, until
		// the P's scheduler sweeps it; give it a few rounds.
		for start := time.Now(); wp.Value() != nil && time.Since(start) < 5*time.Second; {
			runtime.GC()
			if wp.Value() != nil {
				time.Sleep(time.Millisecond)
			}
		}
		runtime.KeepAlive(ctx) // the context outlives the call
		return wp.Value() == nil
	}
	t.Run("timer", func(t *testing.T) {
		is := is.New(t)
		is.True(collectable(t, time.Hour)) // the one-hour timer no longer holds the call
	})
	t.Run("context", func(t *testing.T) {
		is := is.New(t)
		is.True(collectable(t, 0)) // the live context no longer holds the call
	})
}
