package ccm

import (
	"context"

	"github.com/ftnpipe/ccm/pipeline"
)

// CallSteps adds to as a step that calls function fn with params through
// the same pipeline as [Iface.Call] and passes the decoded result to the
// next step as its only argument. A FutoIn error from the peer (or a local
// one: Timeout, CommError...) fails the step with that *Error, name,
// description and Remote flag intact, so the handler of the step that
// called CallSteps sees it. Cancelling the program, a timeout of an
// enclosing step or a failed parallel sibling completes the call at once
// (its pending entry is released); the call's context is the one given to
// Execute.
//
// Waiting costs no goroutine: the call's completion resumes the program.
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
		c := i.Go(as.Context(), fn, params, out)
		w := &stepCall{ext: as.WaitExternal()}
		as.SetCancel(func(*AsyncSteps) {
			c.Complete(nil, pipeline.AsError(context.Canceled, pipeline.Timeout))
		})
		c.AddCleanup(w)
	}, nil)
}

// stepCall resumes a program when its call completes.
type stepCall struct{ ext *External }

// Cleanup implements pipeline.Cleanup; it never blocks.
func (w *stepCall) Cleanup(c *pipeline.Call) {
	res, err := c.Result()
	if err != nil {
		w.ext.complete(nil, pipeline.AsError(err, pipeline.InvokerError))
		return
	}
	w.ext.complete([]any{res}, nil)
}
