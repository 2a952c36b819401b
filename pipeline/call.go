package pipeline

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Cleanup is told once that a call completed, right after the completion
// won. Stages use it to release what they hold for the call: the mux its
// pending-table entry, await its timers. It must not block.
type Cleanup interface {
	Cleanup(c *Call)
}

// maxCleanups bounds the cleanups one call can carry: await, throttle,
// mux and retry each register one, and the caller one (AsyncSteps, the
// channel API).
const maxCleanups = 5

// Call is one invocation travelling through a pipeline. It is always passed
// as *Call and never copied. Its exported fields are written by the stage
// that owns the call at that moment (see the package doc on ownership) and
// must not be touched by anyone else.
//
// A Call is a one-shot future: [Call.Complete] wins exactly once, closes
// [Call.Done] and makes [Call.Result] valid. Any number of goroutines may
// wait on Done.
type Call struct {
	ctx context.Context

	// Req is the request message; stages fill Rid and Sec in turn.
	Req Request
	// Out, when not nil, is a pointer the result "r" is decoded into
	// instead of a generic value.
	Out any
	// Deadline is when the call fails with Timeout, covering every
	// attempt. Zero means no deadline.
	Deadline time.Time
	// Frame is the encoded request (set by the encode transform).
	Frame []byte
	// frame is the pooled buffer behind Frame, if any.
	frame *[]byte
	// Attempt counts transmissions so far, starting at 0.
	Attempt int
	// Sent reports whether the current attempt's frame was (or may have
	// been) written; it decides ConnectError versus CommError.
	Sent atomic.Bool
	// via is the connection the current attempt was written on (see
	// [Carrier]); nil when none.
	via atomic.Pointer[Carrier]
	// Rsp is the decoded response envelope, set by the sink.
	Rsp Response
	// Raw, when not nil, makes this a raw data call (FTN5): see [Raw].
	Raw *Raw
	// Check, when set, judges the peer's answer against the called
	// function's definition before the call completes with it (the
	// AdvancedCCM's result check; see [Checker] and [CheckAnswer]).
	Check Checker
	// OneWay marks a call that awaits no response (a function without a
	// result, sent without "forcersp"): the transport completes it once
	// its frame is written. See [Checker].
	OneWay bool

	state    atomic.Uint32 // 0 pending, 1 completing, 2 done
	done     chan struct{}
	result   any
	err      error
	hctx     handlerContext // see HandlerContext
	mu       sync.Mutex     // guards cleanups, ncleanup and finished
	cleanups [maxCleanups]Cleanup
	ncleanup int
	finished bool
}

// NewCall returns a call for function f ("iface:ver:func") with params p.
// ctx carries the caller's deadline and cancellation; a nil ctx means
// context.Background.
func NewCall(ctx context.Context, f string, p map[string]any) *Call {
	if ctx == nil {
		ctx = context.Background()
	}
	if p == nil {
		p = map[string]any{}
	}
	c := &Call{ctx: ctx, done: make(chan struct{})}
	c.Req.F = f
	c.Req.P = p
	if d, ok := ctx.Deadline(); ok {
		c.Deadline = d
	}
	return c
}

// Context returns the caller's context.
func (c *Call) Context() context.Context { return c.ctx }

// Complete records the outcome and closes Done. Only the first call wins;
// it returns false for every later one, which then has no effect. A non-nil
// err that is not an *Error is converted with [AsError] (InvokerError for
// foreign errors). Complete never blocks.
func (c *Call) Complete(res any, err error) bool {
	if !c.state.CompareAndSwap(0, 1) {
		return false
	}
	c.finish(res, err)
	return true
}

// CompleteWith is Complete for a result that must be written where the
// caller will read it (the caller's target, Out): it first claims the
// call, and only when this completion wins does it run fill and complete
// with what fill returns. A completion that loses (the deadline or a
// cancel came first) runs nothing, so nothing is written into the
// caller's memory after the caller has returned. A panicking fill
// completes the call with InvokerError, then panics on. Other completions
// meanwhile lose and return at once; waiters wait for fill.
func (c *Call) CompleteWith(fill func() (any, error)) bool {
	if !c.state.CompareAndSwap(0, 1) {
		return false
	}
	done := false
	defer func() {
		if !done {
			c.finish(nil, NewError(InvokerError, "panic while completing the call"))
		}
	}()
	res, err := fill()
	done = true
	c.finish(res, err)
	return true
}

// finish publishes the outcome of a claimed call and runs its cleanups.
func (c *Call) finish(res any, err error) {
	if err != nil {
		c.err = AsError(err, InvokerError)
	} else {
		c.result = res
	}
	c.state.Store(2)
	close(c.done)
	c.mu.Lock()
	c.finished = true
	cls, n := c.cleanups, c.ncleanup
	c.mu.Unlock()
	for i := 0; i < n; i++ {
		cls[i].Cleanup(c)
	}
}

// AddCleanup registers cl to run once when the call completes; if the call
// has already completed it runs at once, in the caller's goroutine. At most
// five cleanups can be registered (await, throttle, mux, retry and one for
// the caller, e.g. AsyncSteps); AddCleanup panics beyond that (a wiring
// bug, not a run-time condition).
func (c *Call) AddCleanup(cl Cleanup) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		cl.Cleanup(c)
		return
	}
	if c.ncleanup == maxCleanups {
		c.mu.Unlock()
		panic("pipeline: too many cleanups on one Call")
	}
	c.cleanups[c.ncleanup] = cl
	c.ncleanup++
	c.mu.Unlock()
}

// Done returns a channel closed when the call completes.
func (c *Call) Done() <-chan struct{} { return c.done }

// IsDone reports whether the call has completed (or is completing).
func (c *Call) IsDone() bool { return c.state.Load() != 0 }

// Result returns the outcome. It is valid only after Done is closed; before
// that it returns nil and an InvokerError.
func (c *Call) Result() (any, error) {
	if c.state.Load() != 2 {
		return nil, NewError(InvokerError, "result read before the call completed")
	}
	return c.result, c.err
}

// Wait blocks until the call completes and returns its outcome. It does not
// watch the call's context: the pipeline completes the call when the
// context ends.
func (c *Call) Wait() (any, error) {
	<-c.done
	return c.result, c.err
}

// framePool recycles frame buffers. Buffers that grew past 64 KiB are
// dropped rather than kept.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// FrameBuf returns an empty buffer to encode the request into: the call's
// own frame memory, or a pooled buffer when it has none. Assign the encoded
// result to c.Frame.
func (c *Call) FrameBuf() []byte {
	if cap(c.Frame) > 0 {
		return c.Frame[:0]
	}
	c.frame = framePool.Get().(*[]byte)
	return (*c.frame)[:0]
}

// ReleaseFrame gives the frame's memory back to the pool. Only the owner
// may call it, once nothing reads the frame any more (the transport copied
// it); c.Frame is nil afterwards, and a retry encodes into a fresh buffer.
func (c *Call) ReleaseFrame() {
	if c.frame != nil && cap(c.Frame) <= 64<<10 {
		*c.frame = c.Frame[:0]
		framePool.Put(c.frame)
	}
	c.frame, c.Frame = nil, nil
}

// DetachFrame forgets the frame without recycling it, for transports that
// may still read it after handing the call on (net/http may read a request
// body after RoundTrip returns); a retry then encodes into new memory.
func (c *Call) DetachFrame() { c.frame, c.Frame = nil, nil }

// String describes the call for logs and debugging: function, rid, attempt
// and state. It never shows parameters, frames or credentials, so printing
// a *Call with fmt is safe.
func (c *Call) String() string {
	state := "pending"
	if c.IsDone() {
		state = "done"
	}
	s := "Call{" + c.Req.F
	if c.Req.Rid != "" {
		s += " rid=" + c.Req.Rid
	}
	return s + " attempt=" + strconv.Itoa(c.Attempt) + " " + state + "}"
}

// GoString is String, for %#v.
func (c *Call) GoString() string { return c.String() }
