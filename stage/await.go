package stage

import (
	"context"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// DefaultCallTimeout is the call timeout when none is configured, the
// reference implementation's callTimeoutMS.
const DefaultCallTimeout = 30 * time.Second

// Await returns the transform that bounds a call in time. On a call's first
// attempt it sets Deadline to the earlier of the context's deadline and now
// plus timeout (timeout <= 0: the context alone decides), arms one runtime
// timer for it, and registers a context.AfterFunc for cancellation when the
// context can be cancelled. Whichever fires first completes the call with
// Timeout (the context's error stays the cause); completion disarms both.
// No goroutine exists per call until a timer fires.
//
// The deadline covers every attempt, retries included; later attempts pass
// through untouched.
func Await(timeout time.Duration) pipeline.Transform {
	return func(c *pipeline.Call) error {
		if c.Attempt > 0 {
			return nil
		}
		ctx := c.Context()
		if err := ctx.Err(); err != nil {
			return err
		}
		var w awaitWatch
		if timeout > 0 {
			d := time.Now().Add(timeout)
			if c.Deadline.IsZero() || d.Before(c.Deadline) {
				c.Deadline = d
				w.timer = time.AfterFunc(timeout, func() {
					c.Complete(nil, pipeline.Errorf(pipeline.Timeout, "no response within %v", timeout))
				})
			}
		}
		if ctx.Done() != nil {
			w.stop = context.AfterFunc(ctx, func() { c.Complete(nil, ctx.Err()) })
		}
		if w.timer != nil || w.stop != nil {
			c.AddCleanup(&awaitWatch{timer: w.timer, stop: w.stop}) // nothing allocated when there is nothing to watch
		}
		return nil
	}
}

type awaitWatch struct {
	timer *time.Timer
	stop  func() bool
}

func (w *awaitWatch) Cleanup(*pipeline.Call) {
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stop != nil {
		w.stop()
	}
}
