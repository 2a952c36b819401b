package stage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

const guard = 10 * time.Second // hang detector, never a timing assertion

func wait(t *testing.T, c *pipeline.Call) (any, error) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatalf("call %s never completed", c.Req.F)
	}
	return c.Result()
}

// idlePipeline is a pipeline that is never started: a Take on it only
// parks the call, since the tests hold retries for an hour.
func idlePipeline() *pipeline.Pipeline {
	return pipeline.New([]pipeline.Step{pipeline.S("sink", pipeline.StageFunc(
		func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
			for c := range in {
				c.Complete(nil, nil)
			}
			return nil
		}), 1)})
}

func heldRetry(count, lane int) *stage.Retry {
	r := stage.NewRetry(count)
	stage.SetRetryTiming(r, time.Hour, lane)
	return r
}

func TestRetryTakesOnlyTransportErrors(t *testing.T) {
	p := idlePipeline()
	for _, tc := range []struct {
		err  error
		take bool
	}{
		{pipeline.NewError(pipeline.ConnectError, "dial"), true},
		{pipeline.NewError(pipeline.CommError, "lost"), true},
		{fmt.Errorf("wrapped: %w", pipeline.NewError(pipeline.CommError, "lost")), true},
		{pipeline.NewError(pipeline.Timeout, ""), false},
		{pipeline.NewError(pipeline.InvokerError, "bug"), false},
		{pipeline.RemoteError(pipeline.InternalError, "executor"), false},
		{pipeline.RemoteError(pipeline.NotImplemented, ""), false},
		{pipeline.RemoteError("NotEnoughMoney", ""), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{io.EOF, false},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			is := is.New(t)
			r := heldRetry(3, 1024)
			c := pipeline.NewCall(context.Background(), fn, nil)
			is.Equal(r.Take(p, c, tc.err), tc.take)
			if tc.take {
				is.Equal(c.Attempt, 1) // counted
				is.Equal(r.Waiting(), 1)
				is.True(!c.IsDone()) // owned by the retry lane
			} else {
				is.Equal(c.Attempt, 0)
				is.Equal(r.Waiting(), 0)
			}
			r.Close()
			is.Equal(r.Waiting(), 0)
			if tc.take {
				_, err := c.Result()
				is.True(err == pipeline.AsError(tc.err, pipeline.InvokerError)) // Close completes it with the error it failed with
			}
		})
	}
}

func TestRetryCount(t *testing.T) {
	is := is.New(t)
	p := idlePipeline()
	lost := pipeline.NewError(pipeline.CommError, "lost")

	r := heldRetry(2, 1024)
	defer r.Close()
	c := pipeline.NewCall(context.Background(), fn, nil)
	is.True(r.Take(p, c, lost)) // retry 1
	c.Attempt = 1
	is.True(r.Take(p, c, lost)) // retry 2
	is.Equal(c.Attempt, 2)
	is.True(!r.Take(p, c, lost)) // used up
	is.Equal(c.Attempt, 2)

	none := heldRetry(0, 1024)
	c = pipeline.NewCall(context.Background(), fn, nil)
	is.True(!none.Take(p, c, lost)) // count 0: never retried
	is.Equal(stage.DefaultRetryCount, 1)
}

func TestRetryDeadline(t *testing.T) {
	is := is.New(t)
	p := idlePipeline()
	lost := pipeline.NewError(pipeline.ConnectError, "dial")

	r := heldRetry(5, 1024)
	defer r.Close()
	c := pipeline.NewCall(context.Background(), fn, nil)
	c.Deadline = time.Now().Add(30 * time.Minute) // before the one-hour backoff
	is.True(!r.Take(p, c, lost))                  // fails at once instead of waiting in vain
	is.Equal(c.Attempt, 0)

	c.Deadline = time.Now().Add(3 * time.Hour) // the backoff fits (1 h ± 50 %)
	is.True(r.Take(p, c, lost))

	fast := stage.NewRetry(5) // default backoff: 10 ms ± 50 %
	defer fast.Close()
	c = pipeline.NewCall(context.Background(), fn, nil)
	c.Deadline = time.Now().Add(time.Millisecond)
	is.True(!fast.Take(p, c, lost))
}

func TestRetryRefuses(t *testing.T) {
	is := is.New(t)
	p := idlePipeline()
	lost := pipeline.NewError(pipeline.CommError, "lost")

	t.Run("completed call", func(t *testing.T) {
		is := is.New(t)
		r := heldRetry(5, 1024)
		defer r.Close()
		c := pipeline.NewCall(context.Background(), fn, nil)
		c.Complete(nil, pipeline.NewError(pipeline.Timeout, ""))
		is.True(!r.Take(p, c, lost))
	})
	t.Run("lane full", func(t *testing.T) {
		is := is.New(t)
		r := heldRetry(5, 2)
		defer r.Close()
		for range 2 {
			is.True(r.Take(p, pipeline.NewCall(context.Background(), fn, nil), lost))
		}
		is.True(!r.Take(p, pipeline.NewCall(context.Background(), fn, nil), lost)) // never blocks
		is.Equal(r.Waiting(), 2)
	})
	t.Run("closed", func(t *testing.T) {
		is := is.New(t)
		r := heldRetry(5, 1024)
		r.Close()
		is.True(!r.Take(p, pipeline.NewCall(context.Background(), fn, nil), lost))
	})
	is.NoErr(p.Close())
}

func TestRetryCloseCompletesWaiting(t *testing.T) {
	is := is.New(t)
	p := idlePipeline()
	r := heldRetry(5, 1024)
	var calls []*pipeline.Call
	var errs []error
	for i := range 5 {
		c := pipeline.NewCall(context.Background(), fn, nil)
		err := pipeline.NewError(pipeline.CommError, fmt.Sprint("lost ", i))
		is.True(r.Take(p, c, err))
		calls, errs = append(calls, c), append(errs, err)
	}
	is.Equal(r.Waiting(), 5)
	r.Close()
	is.Equal(r.Waiting(), 0)
	for i, c := range calls {
		is.True(c.IsDone())
		_, err := c.Result()
		is.True(err == errs[i]) // each with its own error
	}
	r.Close() // twice is fine
}

// endpoint is a real pipeline of the shape the CCM builds for a
// multiplexed transport: await, mux, sign, encode, then a fake transport
// whose behaviour per attempt the test decides.
type endpoint struct {
	p     *pipeline.Pipeline
	mux   *stage.Mux
	retry *stage.Retry

	mu   sync.Mutex
	rids []string
	secs []string
}

// transport decides what the fake peer does with one attempt; it returns
// a response to deliver, or nil after disposing of the call itself.
type transport func(e *endpoint, c *pipeline.Call) *pipeline.Response

func newEndpoint(t *testing.T, r *stage.Retry, timeout time.Duration, send transport) *endpoint {
	e := &endpoint{retry: r}
	e.mux = stage.NewMux(stage.NewDecoder(codec.JSON), func(c *pipeline.Call, err error) { e.p.Fail(c, err) })
	pw, err := stage.ParsePassword("alice:pw")
	if err != nil {
		t.Fatal(err)
	}
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		for c := range in {
			if c.IsDone() {
				continue
			}
			var req pipeline.Request
			if err := codec.JSON.DecodeRequest(c.Frame, &req); err != nil {
				c.Complete(nil, err)
				continue
			}
			e.mu.Lock()
			e.rids, e.secs = append(e.rids, req.Rid), append(e.secs, req.Sec)
			e.mu.Unlock()
			if rsp := send(e, c); rsp != nil {
				rsp.Rid = req.Rid
				frame, err := codec.JSON.AppendResponse(nil, rsp)
				if err != nil {
					c.Complete(nil, err)
					continue
				}
				e.mux.Receive(frame)
			}
		}
		return nil
	})
	e.p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(timeout)),
		pipeline.T("mux", e.mux.Assign),
		pipeline.T("sign", stage.Sign(pw)),
		pipeline.T("encode", stage.Encode(codec.JSON, stage.DefaultMaxMessageSize)),
		pipeline.S("transmit", sink, 1),
	},
		pipeline.WithFailover(func(c *pipeline.Call, err error) bool { return r.Take(e.p, c, err) }),
		pipeline.OnClose(r.Close),
		pipeline.OnClose(e.mux.Close),
	)
	t.Cleanup(func() {
		if err := e.p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func (e *endpoint) seen() ([]string, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.rids...), append([]string(nil), e.secs...)
}

func TestRetryThroughPipeline(t *testing.T) {
	t.Run("ConnectError then success", func(t *testing.T) {
		is := is.New(t)
		e := newEndpoint(t, stage.NewRetry(1), guard, func(e *endpoint, c *pipeline.Call) *pipeline.Response {
			if c.Attempt == 0 {
				e.p.Fail(c, pipeline.NewError(pipeline.ConnectError, "dial refused")) // nothing sent
				return nil
			}
			c.Sent.Store(true)
			return &pipeline.Response{R: map[string]any{"attempt": c.Attempt}}
		})
		c := pipeline.NewCall(context.Background(), fn, map[string]any{"a": 1})
		e.p.Submit(c)
		res, err := wait(t, c)
		is.NoErr(err)
		is.Equal(res, any(map[string]any{"attempt": 1.0})) // succeeded on the 2nd attempt
		is.Equal(c.Attempt, 1)
		rids, secs := e.seen()
		is.Equal(rids, []string{"C1", "C2"})             // a new rid per attempt
		is.Equal(secs, []string{"alice:pw", "alice:pw"}) // signed again
		is.Equal(e.mux.Pending(), 0)
		is.Equal(e.retry.Waiting(), 0)
	})
	t.Run("connection lost after sending", func(t *testing.T) {
		is := is.New(t)
		e := newEndpoint(t, stage.NewRetry(1), guard, func(e *endpoint, c *pipeline.Call) *pipeline.Response {
			c.Sent.Store(true)
			if c.Attempt == 0 {
				e.mux.FailSent(pipeline.NewError(pipeline.CommError, "connection reset"))
				return nil
			}
			return &pipeline.Response{R: "second"}
		})
		c := pipeline.NewCall(context.Background(), fn, nil)
		e.p.Submit(c)
		res, err := wait(t, c)
		is.NoErr(err)
		is.Equal(res, "second")
		rids, _ := e.seen()
		is.Equal(rids, []string{"C1", "C2"})
		is.Equal(e.mux.Pending(), 0)
	})
	t.Run("attempts used up", func(t *testing.T) {
		is := is.New(t)
		e := newEndpoint(t, stage.NewRetry(2), guard, func(e *endpoint, c *pipeline.Call) *pipeline.Response {
			e.p.Fail(c, pipeline.NewError(pipeline.ConnectError, fmt.Sprint("refused ", c.Attempt)))
			return nil
		})
		c := pipeline.NewCall(context.Background(), fn, nil)
		e.p.Submit(c)
		_, err := wait(t, c)
		is.True(errors.Is(err, pipeline.ErrConnectError))
		is.Equal(err.Error(), "ConnectError: refused 2") // the last attempt's error
		rids, _ := e.seen()
		is.Equal(len(rids), 3) // the first attempt and two retries
	})
	t.Run("peer errors are final", func(t *testing.T) {
		is := is.New(t)
		e := newEndpoint(t, stage.NewRetry(3), guard, func(e *endpoint, c *pipeline.Call) *pipeline.Response {
			c.Sent.Store(true)
			return &pipeline.Response{E: pipeline.InternalError, EDesc: "boom"}
		})
		c := pipeline.NewCall(context.Background(), fn, nil)
		e.p.Submit(c)
		_, err := wait(t, c)
		is.True(errors.Is(err, pipeline.ErrInternalError))
		is.True(pipeline.IsRemote(err))
		rids, _ := e.seen()
		is.Equal(len(rids), 1) // not retried
	})
	t.Run("Close while waiting", func(t *testing.T) {
		is := is.New(t)
		r := heldRetry(1, 1024)
		refused := pipeline.NewError(pipeline.ConnectError, "refused")
		e := newEndpoint(t, r, 3*time.Hour, func(e *endpoint, c *pipeline.Call) *pipeline.Response {
			e.p.Fail(c, refused)
			return nil
		})
		c := pipeline.NewCall(context.Background(), fn, nil)
		e.p.Submit(c)
		for r.Waiting() == 0 && !c.IsDone() {
			time.Sleep(time.Millisecond) // polling for the hand-over, not a timing assertion
		}
		is.True(!c.IsDone()) // parked in the lane for an hour
		is.NoErr(e.p.Close())
		is.True(c.IsDone()) // Close completed it
		_, err := c.Result()
		is.True(err == refused)
		is.Equal(e.mux.Pending(), 0)
	})
}

// A call that completes just before Take registers its cleanup must not
// deadlock the lane: Take registers the cleanup outside its lock, and the
// cleanup, run at once, takes the call back out.
func TestRetryTakeOfCompletedCallDoesNotDeadlock(t *testing.T) {
	r := stage.NewRetry(1)
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		for c := range in {
			c.Complete(nil, nil)
		}
		return nil
	}), 1)})
	defer p.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
			go c.Complete(nil, pipeline.NewError(pipeline.Timeout, "t")) // races with Take
			r.Take(p, c, pipeline.NewError(pipeline.CommError, "lost"))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang detector
		t.Fatal("Retry.Take deadlocked on a call that completed concurrently")
	}
	// Every call completes (its goroutine), and completion takes it out of
	// the lane: nothing waits for a retry timer that has nothing to do.
	for i := 0; r.Waiting() != 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.Waiting(); n != 0 {
		t.Fatalf("%d completed calls left in the retry lane", n)
	}
	r.Close()
}
