package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/matryer/is"
)

// countCleanup counts how often it is told that a call completed.
type countCleanup struct{ n atomic.Int32 }

func (cc *countCleanup) Cleanup(*pipeline.Call) { cc.n.Add(1) }

// funcCleanup adapts a function to pipeline.Cleanup.
type funcCleanup func(c *pipeline.Call)

func (f funcCleanup) Cleanup(c *pipeline.Call) { f(c) }

func TestNewCall(t *testing.T) {
	is := is.New(t)
	//nolint:staticcheck // a nil ctx is documented to mean Background
	c := pipeline.NewCall(nil, "a.b:1.0:f", nil)
	is.True(c.Context() != nil)
	is.True(c.Req.P != nil) // never nil on the wire
	is.Equal(len(c.Req.P), 0)
	is.Equal(c.Req.F, "a.b:1.0:f")
	is.True(c.Deadline.IsZero())
	is.True(!c.IsDone())

	dl := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	p := map[string]any{"a": 1}
	c = pipeline.NewCall(ctx, "a.b:1.0:f", p)
	is.True(c.Deadline.Equal(dl)) // the ctx deadline is copied
	is.True(c.Context() == ctx)
	is.Equal(c.Req.P["a"], 1)
}

func TestCallResultBeforeCompletion(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
	res, err := c.Result()
	is.Equal(res, nil)
	is.True(errors.Is(err, pipeline.ErrInvokerError))
	select {
	case <-c.Done():
		t.Fatal("Done closed before completion")
	default:
	}
}

func TestCallComplete(t *testing.T) {
	t.Run("result", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		is.True(c.Complete(42, nil))
		<-c.Done() // closed
		is.True(c.IsDone())
		res, err := c.Result()
		is.NoErr(err)
		is.Equal(res, 42)
		is.True(!c.Complete(43, nil))                                      // second completion loses
		is.True(!c.Complete(nil, pipeline.NewError(pipeline.Timeout, ""))) // and has no effect
		res, err = c.Wait()
		is.NoErr(err)
		is.Equal(res, 42)
	})
	t.Run("Error kept", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		want := pipeline.RemoteError(pipeline.NotImplemented, "nope")
		is.True(c.Complete("ignored", want))
		res, err := c.Result()
		is.Equal(res, nil) // no result with an error
		is.True(err == want)
	})
	t.Run("foreign error", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		c.Complete(nil, io.ErrUnexpectedEOF)
		_, err := c.Result()
		var fe *pipeline.Error
		is.True(errors.As(err, &fe))
		is.Equal(fe.Name, pipeline.InvokerError)
		is.True(errors.Is(err, io.ErrUnexpectedEOF))
	})
	t.Run("context error", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		c.Complete(nil, context.Canceled)
		_, err := c.Wait()
		is.True(errors.Is(err, pipeline.ErrTimeout))
		is.True(errors.Is(err, context.Canceled))
	})
}

func TestCallWait(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
	type outcome struct {
		res any
		err error
	}
	got := make(chan outcome, 4)
	var wg sync.WaitGroup
	for range 4 { // any number of waiters
		wg.Go(func() {
			res, err := c.Wait()
			got <- outcome{res, err}
		})
	}
	select {
	case o := <-got:
		t.Fatalf("Wait returned %v before completion", o)
	default:
	}
	c.Complete("ok", nil)
	wg.Wait()
	close(got)
	n := 0
	for o := range got {
		is.NoErr(o.err)
		is.Equal(o.res, "ok")
		n++
	}
	is.Equal(n, 4)
}

// TestCallCompleteRace: many goroutines race to complete one call; exactly
// one wins and its value is the result.
func TestCallCompleteRace(t *testing.T) {
	is := is.New(t)
	const goroutines = 64
	for iter := range 200 {
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		cl := &countCleanup{}
		c.AddCleanup(cl)
		start := make(chan struct{})
		wins := make(chan int, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				<-start
				var err error
				if g%3 == 0 {
					err = pipeline.NewError(pipeline.CommError, fmt.Sprint(g))
				}
				if c.Complete(g, err) {
					wins <- g
				}
			})
		}
		close(start)
		wg.Wait()
		close(wins)
		var winners []int
		for g := range wins {
			winners = append(winners, g)
		}
		is.Equal(len(winners), 1)       // exactly one Complete returned true
		is.Equal(cl.n.Load(), int32(1)) // the cleanup ran once
		res, err := c.Result()
		if w := winners[0]; w%3 == 0 {
			is.Equal(res, nil)
			is.Equal(err.Error(), fmt.Sprintf("CommError: %d", w)) // the winner's error
		} else {
			is.NoErr(err)
			is.Equal(res, w) // the winner's value
		}
		if t.Failed() {
			t.Logf("iteration %d", iter)
			return
		}
	}
}

func TestCallCleanup(t *testing.T) {
	t.Run("runs once after completion", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		var seen []string
		c.AddCleanup(funcCleanup(func(got *pipeline.Call) {
			is.True(got == c)
			_, err := got.Result() // the outcome is already readable
			is.NoErr(err)
			seen = append(seen, "a")
		}))
		cl := &countCleanup{}
		c.AddCleanup(cl)
		is.Equal(len(seen), 0) // not before completion
		c.Complete(1, nil)
		c.Complete(2, nil)
		is.Equal(seen, []string{"a"})
		is.Equal(cl.n.Load(), int32(1))
	})
	t.Run("added after completion runs at once", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		c.Complete(1, nil)
		cl := &countCleanup{}
		for range 5 { // no limit once completed
			c.AddCleanup(cl)
		}
		is.Equal(cl.n.Load(), int32(5)) // synchronously, each once
		c.Complete(2, nil)
		is.Equal(cl.n.Load(), int32(5)) // a late Complete runs nothing again
	})
	t.Run("panics beyond five", func(t *testing.T) {
		is := is.New(t)
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		cl := &countCleanup{}
		for range 5 {
			c.AddCleanup(cl)
		}
		func() {
			defer func() {
				r := recover()
				is.True(r != nil) // the sixth AddCleanup panics
			}()
			c.AddCleanup(cl)
		}()
		c.Complete(nil, nil)
		is.Equal(cl.n.Load(), int32(5)) // the five registered ones still run
	})
	t.Run("racing with Complete", func(t *testing.T) {
		is := is.New(t)
		for range 500 {
			c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
			var cls [3]countCleanup
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range cls {
				wg.Go(func() {
					<-start
					c.AddCleanup(&cls[i])
				})
			}
			wg.Go(func() {
				<-start
				runtime.Gosched()
				c.Complete(nil, nil)
			})
			close(start)
			wg.Wait()
			for i := range cls {
				is.Equal(cls[i].n.Load(), int32(1)) // every cleanup ran exactly once
			}
		}
	})
}
