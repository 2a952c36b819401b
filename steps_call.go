package ccm

import (
	"context"
	"sync/atomic"

	"github.com/ftnpipe/ccm/pipeline"
)

// CallSteps adds to as a step that calls function fn with params through
// the same pipeline as [Iface.Call] and passes the decoded result to the
// next step as its only argument. A FutoIn error from the peer (or a local
// one: Timeout, CommError...) fails the step with that *Error, name,
// description and Remote flag intact, so the handler of the step that
// called CallSteps sees it. Cancelling the program, a timeout of an
// enclosing step or a failed parallel sibling completes the call at once
// (its pending entry is released) and cancels its context, so a transport
// stops its request (an HTTP request gives its connection back). The
// call's context is derived from the one given to Execute.
//
// The program's goroutine never blocks on the call: the call is submitted
// by a short-lived goroutine, which blocks instead while the endpoint's
// queue is full (back-pressure) and ends once the call is queued; waiting
// for the result costs no goroutine, the call's completion resumes the
// program. So timeouts, Cancel and parallel siblings keep working while
// the queue is full.
//
// CallSteps must be called where Add may be (set-up or inside a step).
func (i *Iface) CallSteps(as *AsyncSteps, fn string, params map[string]any) {
	i.callSteps(as, fn, params, nil)
}

// CallStepsInto is CallSteps that decodes the result as [Iface.CallInto]
// does, into a new value that newOut returns (a non-nil pointer, made
// afresh for every execution of the step), and passes that pointer to the
// next step. Generated typed clients (cmd/ftngen) use it.
func (i *Iface) CallStepsInto(as *AsyncSteps, fn string, params map[string]any, newOut func() any) {
	i.callSteps(as, fn, params, newOut)
}

func (i *Iface) callSteps(as *AsyncSteps, fn string, params map[string]any, newOut func() any) {
	as.Add(func(as *AsyncSteps, _ ...any) {
		var out any
		if newOut != nil {
			out = newOut()
		}
		ctx, cancel := context.WithCancel(as.Context())
		w := &stepCall{ext: as.WaitExternal(), cancel: cancel}
		as.SetCancel(func(*AsyncSteps) { w.abandon() })
		go w.submit(i, ctx, fn, params, out)
	}, nil)
}

// stepCall is one call of a CallSteps step: it resumes the program when
// the call completes.
type stepCall struct {
	ext    *External
	cancel context.CancelFunc
	call   atomic.Pointer[pipeline.Call] // set once submitted
}

// submit starts the call, blocking while the endpoint's queue is full or
// until the call's context ends (abandon cancels it).
func (w *stepCall) submit(i *Iface, ctx context.Context, fn string, params map[string]any, out any) {
	c := i.Go(ctx, fn, params, out)
	w.call.Store(c)
	if ctx.Err() != nil { // abandoned before the call was stored
		c.Complete(nil, errCanceled())
	}
	c.AddCleanup(w)
}

// abandon is the step's cancel handler, on the program's goroutine: it
// cancels the call's context and, once the call exists, completes it.
func (w *stepCall) abandon() {
	w.cancel()
	if c := w.call.Load(); c != nil {
		c.Complete(nil, errCanceled())
	}
}

// Cleanup implements pipeline.Cleanup; it never blocks.
func (w *stepCall) Cleanup(c *pipeline.Call) {
	w.cancel() // release the call's context
	res, err := c.Result()
	if err != nil {
		w.ext.complete(nil, pipeline.AsError(err, pipeline.InvokerError))
		return
	}
	w.ext.complete([]any{res}, nil)
}
