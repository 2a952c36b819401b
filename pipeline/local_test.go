package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
)

type ctxKey struct{}

// The handler context carries the caller's values and ends when the call
// completes, with an error that says why.
func TestHandlerContext(t *testing.T) {
	is := is.New(t)
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	for _, tc := range []struct {
		name string
		end  func(c *pipeline.Call, cancel context.CancelFunc)
		want error
	}{
		{"result", func(c *pipeline.Call, _ context.CancelFunc) { c.Complete(1, nil) }, context.Canceled},
		{"timeout", func(c *pipeline.Call, _ context.CancelFunc) {
			c.Complete(nil, pipeline.NewError(pipeline.Timeout, "late"))
		}, context.DeadlineExceeded},
		{"caller cancels", func(c *pipeline.Call, cancel context.CancelFunc) {
			cancel()
			c.Complete(nil, context.Canceled)
		}, context.Canceled},
	} {
		ctx, cancel := context.WithCancel(parent)
		c := pipeline.NewCall(ctx, "a.b:1.0:f", nil)
		c.Deadline = time.Unix(100, 0)
		hc := c.HandlerContext()
		is.Equal(hc.Value(ctxKey{}), "v") // the caller's values
		d, ok := hc.Deadline()
		is.True(ok && d.Equal(time.Unix(100, 0)))
		is.NoErr(hc.Err()) // running
		select {
		case <-hc.Done():
			t.Fatal("done before the call completed")
		default:
		}
		tc.end(c, cancel)
		<-hc.Done()
		is.True(errors.Is(hc.Err(), tc.want)) // why it ended
		cancel()
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil).HandlerContext()
	})
	is.True(allocs <= 3) // the Call, its done channel, its params: nothing for the context
}

// TestInHandler: a context derived from a handler context is recognised
// (nested in-process calls use that); others are not.
func TestInHandler(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	hctx := c.HandlerContext()
	derived, cancel := context.WithTimeout(hctx, time.Minute)
	defer cancel()
	is.True(pipeline.InHandler(hctx))
	is.True(pipeline.InHandler(derived))
	is.True(!pipeline.InHandler(context.Background()))
	is.True(!pipeline.InHandler(c.Context()))
}
