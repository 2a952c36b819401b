package ccm

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// Step is one step of an [AsyncSteps] program (FTN12 execute_callback).
// args are the values the previous step passed to Success (for the first
// step of a level: none). A step must not block: it completes by returning
// (implicit success), by calling as.Success or as.Error, by adding
// sub-steps, or, after SetTimeout, SetCancel or WaitExternal, later
// through the [External] handle.
type Step func(as *AsyncSteps, args ...any)

// ErrorHandler handles an error raised in its step or in any of the step's
// sub-steps (FTN12 error_callback). It may recover with as.Success (the
// program continues after the step that owns the handler), replace the
// error with as.Error, add steps that take the failed step's place, or
// return, which passes err on to the next outer handler.
type ErrorHandler func(as *AsyncSteps, err *Error)

// CancelHandler is called when a waiting step is abandoned: root Cancel,
// a timeout, an error while it waits, a failed parallel sibling. It must
// release what the step holds and must not block.
type CancelHandler func(as *AsyncSteps)

// Well-known keys of [AsyncSteps.State] (FTN12 §2.3).
const (
	// StateErrorInfo holds the description of the last error raised (the
	// error_info of FTN12), or the label of the last Break or Continue.
	StateErrorInfo = "error_info"
	// StateLastException holds the last *Error raised, or, when the error
	// is the InternalError reporting a panic in a step or error handler,
	// the value of that panic.
	StateLastException = "last_exception"
)

// burst is how many steps one flow runs before it yields to the other
// flows of the same program (parallel branches, FTN12 §9).
const burst = 100

type stepKind uint8

const (
	plainStep stepKind = iota
	loopStep
	parallelStep
)

// stepDef is a queued step.
type stepDef struct {
	kind  stepKind
	fn    Step
	onErr ErrorHandler
	loop  *loopDef
	par   *Parallel
}

// loopDef is a Loop, Repeat or ForEach: count < 0 runs until Break.
type loopDef struct {
	label string
	count int
	body  func(as *AsyncSteps, i int)
	setup Step // ForEach: snapshot the collection, run as a step would be
}

// frame is a step being executed.
type frame struct {
	def      *stepDef
	onErr    ErrorHandler
	onCancel CancelHandler
	sub      []*stepDef
	timer    *time.Timer // nil once stopped: a firing of another one is stale
	result   []any
	branches []*AsyncSteps
	pending  int // parallel: branches still running
	iter     int // loop: the current iteration
	iterDef  *stepDef
	iterQ    [1]*stepDef // loop: backing store of sub for one iteration
	live     bool        // on its flow's stack
	waiting  bool        // no implicit success
	success  bool        // Success called
	added    bool        // sub-steps added by the callback
	handler  bool        // running its error handler
}

// flow states
const (
	flowIdle = iota
	flowRunnable
	flowWaiting
	flowDone
)

// AsyncSteps is a FutoIn AsyncSteps program (FTN12): a queue of steps
// that run one after another, with nested sub-steps, error handlers,
// timeouts, cancellation, loops, parallel branches and critical sections.
// Build one with [NewSteps], add steps, then [AsyncSteps.Execute] it and
// [AsyncSteps.Await] the result.
//
// The same *AsyncSteps value is passed to every step of the program; inside
// a step its methods act on that step (Add adds sub-steps, Success completes
// it). A parallel branch gets its own *AsyncSteps sharing the program's
// State.
//
// Concurrency: a program runs on one goroutine at a time, which the
// program starts when it becomes runnable and releases when every flow
// waits (for a call, a timer, an external event); a step is not a
// goroutine. Parallel branches are interleaved on that goroutine, so State
// needs no locking from steps. Only Execute, Cancel, Await, Done and the
// [External] handles may be used from other goroutines; every other method
// belongs to the step currently running (or to set-up before Execute).
//
// Error and the loop controls Break and Continue unwind the running step
// with a panic that the engine recovers, like FTN12's throwing error():
// code after them in the step does not run. Any other panic in a step
// becomes an InternalError whose description is the panic value.
//
// Choices where FTN12 is silent or the JS reference differs (see the
// project's spec/ASYNCSTEPS.md): unwinding runs, for each step from the
// innermost out, its cancel handler and then its error handler, and Cancel
// runs cancel handlers only, innermost first (the reference's order);
// misuse (Success twice, Success after Add) is always an InternalError,
// while Error after Add is allowed and fails the step (as in the
// reference); error handlers never see loop control; Break and Continue
// cannot cross a parallel branch; a panic in a cancel handler is dropped;
// timeouts are raised at the innermost running step. The program's result
// is the arguments of its last step, and an unhandled error is returned by
// Await instead of being dropped.
//
// Cost: a trivial step costs about two small allocations (the queued
// step and its frame) and no channel operation or goroutine switch; see
// BenchmarkSteps for steps per second.
type AsyncSteps struct {
	r      *stepsRoot
	queue  []*stepDef
	stack  []*frame
	args   []any
	state  int
	cur    *frame // the frame whose callback is running
	parent *AsyncSteps
	pframe *frame // the parallel frame in parent this branch belongs to
}

// stepsRoot is what all flows of one program share.
type stepsRoot struct {
	main     *AsyncSteps
	vars     map[string]any
	ctx      context.Context
	stopCtx  func() bool
	executed atomic.Bool
	started  atomic.Bool // Execute has set the program up
	cancel   atomic.Bool // Cancel was called
	done     chan struct{}
	result   []any
	err      *Error

	mu       sync.Mutex // guards ready, running and awaiting
	ready    []func()
	running  bool
	awaiting int           // goroutines blocked in Await, which run the program
	wake     chan struct{} // hands the running token to one of them
}

// NewSteps returns an empty program with its own State.
func NewSteps() *AsyncSteps {
	r := &stepsRoot{vars: map[string]any{}, done: make(chan struct{}), ctx: context.Background(), wake: make(chan struct{}, 1)}
	r.main = &AsyncSteps{r: r}
	return r.main
}

// post queues fn on the program's goroutine, starting it if idle: a
// goroutine blocked in Await if there is one, else a new goroutine. It
// never blocks and may be called from any goroutine.
func (r *stepsRoot) post(fn func()) {
	r.mu.Lock()
	r.ready = append(r.ready, fn)
	if r.running {
		r.mu.Unlock()
		return
	}
	r.running = true
	if r.awaiting > 0 {
		r.mu.Unlock()
		r.wake <- struct{}{} // never blocks: running guards the one token
		return
	}
	r.mu.Unlock()
	go r.drain()
}

// await blocks until the program is done, running it meanwhile whenever
// it becomes runnable: the waiting goroutine does the work instead of a
// new one. start, if not nil, runs once this goroutine counts as waiting.
func (r *stepsRoot) await(start func()) {
	r.mu.Lock()
	r.awaiting++
	r.mu.Unlock()
	defer r.unawait() // also when start panics or a step ends the goroutine
	if start != nil {
		start()
	}
	for {
		select {
		case <-r.wake:
			r.drain()
			continue
		case <-r.done:
		}
		break
	}
}

// unawait ends one await.
func (r *stepsRoot) unawait() {
	r.mu.Lock()
	r.awaiting--
	r.mu.Unlock()
	// A token handed over just as the program finished (or as this
	// goroutine left) must not be lost.
	select {
	case <-r.wake:
		go r.drain()
	default:
	}
}

// drain runs the ready queue until it is empty. If a step ends the
// goroutine (runtime.Goexit, as t.FailNow does), a new goroutine takes
// the running token over.
func (r *stepsRoot) drain() {
	exited := true
	defer func() {
		if exited {
			go r.drain()
		}
	}()
	for {
		r.mu.Lock()
		if len(r.ready) == 0 {
			r.running = false
			r.ready = nil
			r.mu.Unlock()
			exited = false
			return
		}
		fn := r.ready[0]
		r.ready[0] = nil
		r.ready = r.ready[1:]
		r.mu.Unlock()
		fn()
	}
}

// stepPanic carries Error out of a step.
type stepPanic struct{ err *Error }

// loopPanic carries Break and Continue out of a step.
type loopPanic struct {
	brk   bool
	label string
}

// Add queues step with an optional error handler (nil for none) and
// returns as for chaining. Before Execute it adds to the program's top
// level; inside a step or error handler it adds a sub-step, which runs
// after the step returns and before the step's next sibling.
func (as *AsyncSteps) Add(step Step, onError ErrorHandler) *AsyncSteps {
	if step == nil {
		as.misuse("Add with a nil step")
	}
	as.push(&stepDef{fn: step, onErr: onError})
	return as
}

// SuccessStep adds a step that only succeeds with args (FTN12 1.11
// successStep): the way a library function hands values to the caller's
// next step.
func (as *AsyncSteps) SuccessStep(args ...any) *AsyncSteps {
	return as.Add(func(as *AsyncSteps, _ ...any) { as.Success(args...) }, nil)
}

// push queues d where Add would.
func (as *AsyncSteps) push(d *stepDef) {
	fr := as.cur
	if fr == nil {
		if as.r.executed.Load() {
			panic("ccm: AsyncSteps.Add called outside a step after Execute")
		}
		as.queue = append(as.queue, d)
		return
	}
	if fr.success {
		as.misuse("a step added sub-steps after Success")
	}
	fr.added = true
	fr.sub = append(fr.sub, d)
}

// misuse fails the running step with InternalError (FTN12 §2.1); outside
// a step it panics, since that is a programming error.
func (as *AsyncSteps) misuse(desc string) {
	if as.cur == nil {
		panic("ccm: AsyncSteps misuse: " + desc)
	}
	panic(&stepPanic{pipeline.NewError(pipeline.InternalError, desc)})
}

// Success completes the running step (or, in an error handler, recovers
// from the error) and passes args to the next step. It is an InternalError
// after the step added sub-steps or already succeeded. Success does not
// unwind: code after it runs, and the step completes when it returns.
func (as *AsyncSteps) Success(args ...any) {
	fr := as.cur
	if fr == nil {
		panic("ccm: AsyncSteps.Success called outside a step; use the External handle")
	}
	switch {
	case fr.success:
		as.misuse("Success called twice")
	case fr.added:
		as.misuse("Success called after adding sub-steps")
	}
	fr.success = true
	fr.result = args
}

// Error fails the running step with a FutoIn error named name; desc goes
// to State()[StateErrorInfo]. It does not return: the step unwinds (the
// engine recovers) and the error goes to the nearest error handler. In an
// error handler it replaces the error being handled.
func (as *AsyncSteps) Error(name ErrorName, desc string) {
	if as.cur == nil {
		panic("ccm: AsyncSteps.Error called outside a step; use the External handle")
	}
	panic(&stepPanic{pipeline.NewError(name, desc)})
}

// State returns the program's shared state, one map for the whole program
// including its parallel branches. Steps may use it without locking;
// other goroutines must not touch it while the program runs.
func (as *AsyncSteps) State() map[string]any { return as.r.vars }

// Context returns the context given to Execute (context.Background before
// that). Steps use it for the I/O they start.
func (as *AsyncSteps) Context() context.Context { return as.r.ctx }

// SetTimeout makes the running step fail with Timeout if it (with its
// sub-steps) has not completed after d; calling it again replaces the
// timer. The step no longer succeeds implicitly on return. The error is
// raised at the innermost step still running and unwinds outwards.
func (as *AsyncSteps) SetTimeout(d time.Duration) {
	fr := as.waitFrame("SetTimeout")
	fr.stopTimer()
	r := as.r
	var tm *time.Timer
	tm = time.AfterFunc(d, func() {
		r.post(func() {
			// A timer stopped or replaced after it fired is stale. tm was
			// set before this runs: both run on the program's goroutine.
			if fr.live && fr.timer == tm && as.state != flowDone {
				as.fail(pipeline.Errorf(pipeline.Timeout, "step timed out after %v", d))
				as.resume()
			}
		})
	})
	fr.timer = tm
}

// SetCancel installs fn, called if the running step is abandoned while it
// waits or runs sub-steps (see [CancelHandler]). The step no longer
// succeeds implicitly on return.
func (as *AsyncSteps) SetCancel(fn CancelHandler) {
	fr := as.waitFrame("SetCancel")
	fr.onCancel = fn
}

// WaitExternal marks the running step as completed from outside and
// returns the handle to complete it with, from any goroutine. A step that
// also adds sub-steps completes when they have, as any step with
// sub-steps: its External is then never waited for, and a completion
// through it is ignored (like one after a cancel or timeout).
func (as *AsyncSteps) WaitExternal() *External {
	fr := as.waitFrame("WaitExternal")
	return &External{as: as, fr: fr}
}

func (as *AsyncSteps) waitFrame(what string) *frame {
	fr := as.cur
	if fr == nil {
		panic("ccm: AsyncSteps." + what + " called outside a step")
	}
	if fr.handler {
		as.misuse(what + " in an error handler")
	}
	fr.waiting = true
	return fr
}

// External completes a step that called [AsyncSteps.WaitExternal]. Its
// methods are safe from any goroutine, never block, and only the first
// call has an effect; a step that was cancelled or timed out meanwhile
// ignores them.
type External struct {
	as   *AsyncSteps
	fr   *frame
	done atomic.Bool
}

// Success completes the step with args.
func (e *External) Success(args ...any) { e.complete(args, nil) }

// Error fails the step with the FutoIn error name and description desc.
func (e *External) Error(name ErrorName, desc string) {
	e.complete(nil, pipeline.NewError(name, desc))
}

func (e *External) complete(args []any, err *Error) {
	if !e.done.CompareAndSwap(false, true) {
		return
	}
	as, fr := e.as, e.fr
	as.r.post(func() {
		if !fr.live || as.state != flowWaiting || as.top() != fr {
			return // abandoned meanwhile
		}
		as.state = flowRunnable
		if err != nil {
			as.fail(err)
		} else {
			as.pop()
			as.args = args
		}
		as.resume()
	})
}

// Execute starts the program with ctx: when ctx ends, the program is
// cancelled as by [AsyncSteps.Cancel] and fails with ctx's error (as
// Timeout). It returns at once; wait with Await or Done. Execute may be
// called once, on the program returned by NewSteps; a second call panics.
func (as *AsyncSteps) Execute(ctx context.Context) *AsyncSteps {
	if as.parent != nil || as.r.main != as || !as.r.executed.CompareAndSwap(false, true) {
		panic("ccm: AsyncSteps.Execute called twice or on a branch")
	}
	r := as.r
	if ctx == nil {
		ctx = context.Background()
	}
	r.ctx = ctx
	as.state = flowRunnable
	if ctx.Done() != nil {
		// Set up before this: the function may run at once.
		r.stopCtx = context.AfterFunc(ctx, func() {
			r.post(func() { as.cancelAll(pipeline.AsError(ctx.Err(), pipeline.Timeout)) })
		})
	}
	r.started.Store(true)
	if r.cancel.Load() {
		as.Cancel() // called before Execute: before the first step runs
	}
	r.post(as.resume)
	return as
}

// Cancel abandons the program: every running step's cancel handler runs,
// innermost first (no error handler runs), the queue is dropped, and
// Await returns a Timeout error whose cause is context.Canceled. It takes
// effect asynchronously, is safe from any goroutine and does nothing once
// the program has finished. Called before Execute, it cancels the program
// when Execute starts it, before its first step.
func (as *AsyncSteps) Cancel() {
	r := as.r
	r.cancel.Store(true)
	if !r.started.Load() {
		return // Execute will see r.cancel
	}
	m := r.main
	r.post(func() { m.cancelAll(errCanceled()) })
}

// errCanceled is the error of a cancelled program or step: Timeout,
// caused by context.Canceled.
func errCanceled() *Error { return pipeline.AsError(context.Canceled, pipeline.Timeout) }

// Done returns a channel closed when the program has finished.
func (as *AsyncSteps) Done() <-chan struct{} { return as.r.done }

// Await blocks until the program finishes and returns the arguments of its
// last successful step, or the unhandled error. Without a prior Execute it
// returns an InvokerError at once. While it waits, the calling goroutine
// runs the program's steps whenever they become runnable (the promise
// bridge of FTN12, for Go).
//
// Await must not be called from inside a step, error handler or cancel
// handler (of any program) while the program has not finished: a step
// must not block, and on the program's own goroutine it could never
// finish. Such a call returns an InvokerError at once instead of
// deadlocking. The check walks the caller's stack, about a microsecond,
// and only when the program is not yet done.
func (as *AsyncSteps) Await() ([]any, error) {
	if !as.r.executed.Load() {
		return nil, pipeline.NewError(pipeline.InvokerError, "Await before Execute")
	}
	select {
	case <-as.r.done:
	default:
		if inEngine() {
			return nil, pipeline.NewError(pipeline.InvokerError, "Await called inside a step would block the program; add steps instead")
		}
		as.r.await(nil)
	}
	return as.outcome()
}

// drainName is the function name of stepsRoot.drain, under which every
// step and handler runs.
var drainName = runtime.FuncForPC(reflect.ValueOf((*stepsRoot).drain).Pointer()).Name()

// inEngine reports whether the calling goroutine is running a callback of
// an AsyncSteps program: whether drain is on its stack.
func inEngine() bool {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == drainName {
			return true
		}
		if !more {
			return false
		}
	}
}

// Run is Execute followed by Await, with every step run by the calling
// goroutine: no goroutine is started for the program. Inside a step it
// blocks that step too (steps must not block): use it there only for a
// program that does not wait for the calling one.
func (as *AsyncSteps) Run(ctx context.Context) ([]any, error) {
	as.r.await(func() { as.Execute(ctx) })
	return as.outcome()
}

func (as *AsyncSteps) outcome() ([]any, error) {
	if as.r.err != nil {
		return nil, as.r.err
	}
	return as.r.result, nil
}

func (as *AsyncSteps) cancelAll(err *Error) {
	if as.state == flowDone {
		return
	}
	as.abort()
	as.finish(nil, err)
}

func (as *AsyncSteps) top() *frame {
	if n := len(as.stack); n > 0 {
		return as.stack[n-1]
	}
	return nil
}

// pop removes the top frame, stopping its timer.
func (as *AsyncSteps) pop() {
	n := len(as.stack) - 1
	fr := as.stack[n]
	as.stack[n] = nil
	as.stack = as.stack[:n]
	fr.live = false
	fr.stopTimer()
}

// stopTimer stops fr's timer, if any, and makes a firing already posted
// stale. It runs on the program's goroutine.
func (fr *frame) stopTimer() {
	if fr.timer != nil {
		fr.timer.Stop()
		fr.timer = nil
	}
}

// resume runs the flow until it waits or finishes, yielding after a burst.
func (as *AsyncSteps) resume() {
	for n := 0; as.state == flowRunnable; n++ {
		if n == burst {
			as.r.post(as.resume)
			return
		}
		as.advance()
	}
}

// advance runs the next queued step, or completes the frame whose
// sub-steps are all done.
func (as *AsyncSteps) advance() {
	top := as.top()
	q := &as.queue
	if top != nil {
		q = &top.sub
	}
	if len(*q) > 0 {
		d := (*q)[0]
		(*q)[0] = nil
		*q = (*q)[1:]
		args := as.args
		as.args = nil
		as.exec(d, args)
		return
	}
	switch {
	case top == nil:
		as.finish(as.args, nil)
	case top.def.kind == loopStep && !top.handler:
		top.iter++
		as.nextIteration(top)
	default:
		as.pop() // its sub-steps are done; their result flows on
	}
}

func (as *AsyncSteps) exec(d *stepDef, args []any) {
	fr := &frame{def: d, onErr: d.onErr, live: true}
	as.stack = append(as.stack, fr)
	switch d.kind {
	case loopStep:
		if d.loop.setup != nil && !as.call(fr, d.loop.setup, nil) {
			return // failed, with its panics recovered as a step's
		}
		ld := d.loop
		fr.iterDef = &stepDef{fn: func(as *AsyncSteps, _ ...any) { ld.body(as, fr.iter) }}
		as.nextIteration(fr)
		return
	case parallelStep:
		as.startParallel(fr)
		return
	}
	if !as.call(fr, d.fn, args) {
		return
	}
	switch {
	case fr.success:
		as.pop()
		as.args = fr.result
	case fr.added:
	case fr.waiting:
		as.state = flowWaiting
	default:
		as.pop() // implicit success
	}
}

// call runs a callback of frame fr, turning Error, Break, Continue and
// panics into engine actions. It reports whether the callback returned
// normally.
func (as *AsyncSteps) call(fr *frame, fn Step, args []any) (ok bool) {
	as.cur = fr
	defer func() {
		as.cur = nil
		if ok {
			return
		}
		switch p := recover().(type) {
		case nil:
			// runtime.Goexit (t.FailNow): the goroutine ends after this;
			// drain hands the program to another, which resumes the flow.
			as.fail(pipeline.NewError(pipeline.InternalError, "step called runtime.Goexit"))
			as.r.post(as.resume)
		case *stepPanic:
			as.fail(p.err)
		case *loopPanic:
			as.loopControl(p)
		default:
			as.raise(pipeline.Errorf(pipeline.InternalError, "step panicked: %v", p), p)
		}
	}()
	fn(as, args...)
	return true
}

func (as *AsyncSteps) nextIteration(fr *frame) {
	ld := fr.def.loop
	if ld.count >= 0 && fr.iter >= ld.count {
		as.pop()
		as.args = nil
		return
	}
	fr.iterQ[0] = fr.iterDef
	fr.sub = fr.iterQ[:]
}

// loopControl unwinds to the loop that Break or Continue names.
func (as *AsyncSteps) loopControl(p *loopPanic) {
	as.r.vars[StateErrorInfo] = p.label
	target := -1
	for i := len(as.stack) - 1; i >= 0; i-- {
		fr := as.stack[i]
		if fr.def.kind == loopStep && !fr.handler && (p.label == "" || fr.def.loop.label == p.label) {
			target = i
			break
		}
	}
	if target < 0 {
		what := "Break"
		if !p.brk {
			what = "Continue"
		}
		if p.label != "" {
			as.fail(pipeline.Errorf(pipeline.InternalError, "%s: no enclosing loop labelled %q", what, p.label))
		} else {
			as.fail(pipeline.NewError(pipeline.InternalError, what+" outside a loop"))
		}
		return
	}
	for len(as.stack)-1 > target {
		as.abandonTop()
	}
	loop := as.top()
	as.args = nil
	if p.brk {
		as.pop()
		return
	}
	loop.iter++
	as.nextIteration(loop)
}

// abandonTop pops the top frame after cancelling what it started: its
// parallel branches (innermost first), then its own cancel handler.
func (as *AsyncSteps) abandonTop() {
	fr := as.top()
	fr.stopTimer()
	for _, b := range fr.branches {
		b.abort()
	}
	fr.branches = nil
	if cb := fr.onCancel; cb != nil {
		fr.onCancel = nil
		as.callCancel(fr, cb)
	}
	as.pop()
}

// callCancel runs a cancel handler; whatever it raises is ignored, since
// the step is already being abandoned.
func (as *AsyncSteps) callCancel(fr *frame, cb CancelHandler) {
	fr.handler = true
	defer func() {
		as.cur = nil
		_ = recover()
	}()
	as.cur = fr
	cb(as)
}

// abort cancels every frame of the flow, innermost first, without error
// handlers.
func (as *AsyncSteps) abort() {
	if as.state == flowDone {
		return
	}
	for len(as.stack) > 0 {
		as.abandonTop()
	}
	as.queue = nil
	as.state = flowDone
}

// fail raises err at the innermost frame and unwinds: for each frame,
// innermost first, its cancel handler runs, then its error handler, which
// may recover, replace the error, or add steps in the frame's place.
func (as *AsyncSteps) fail(err *Error) { as.raise(err, err) }

// raise is fail with exc, the value for State()[StateLastException]: err,
// or the value of the panic that err reports.
func (as *AsyncSteps) raise(err *Error, exc any) {
	as.state = flowRunnable
	for len(as.stack) > 0 {
		as.r.vars[StateErrorInfo] = err.Desc
		as.r.vars[StateLastException] = exc
		fr := as.top()
		h := fr.onErr
		if h == nil {
			as.abandonTop()
			continue
		}
		fr.stopTimer()
		for _, b := range fr.branches {
			b.abort()
		}
		fr.branches = nil
		if cb := fr.onCancel; cb != nil {
			fr.onCancel = nil
			as.callCancel(fr, cb)
		}
		fr.onErr = nil
		fr.handler, fr.success, fr.added, fr.waiting = true, false, false, false
		fr.sub = nil
		var next *Error
		var nextExc any
		var ctl *loopPanic
		func() {
			as.cur = fr
			defer func() {
				as.cur = nil
				switch p := recover().(type) {
				case nil:
				case *stepPanic:
					next = p.err
				case *loopPanic:
					ctl = p
				default:
					next = pipeline.Errorf(pipeline.InternalError, "error handler panicked: %v", p)
					nextExc = p
				}
			}()
			h(as, err)
		}()
		switch {
		case ctl != nil:
			fr.handler = false
			as.loopControl(ctl)
			return
		case next != nil:
			err, exc = next, next
			if nextExc != nil {
				exc = nextExc
			}
		case fr.success:
			as.pop()
			as.args = fr.result
			return
		case fr.added:
			// The added steps take the failed step's place; this frame's
			// handler is spent, so their errors go further out.
			fr.handler = false
			fr.def = &stepDef{fn: fr.def.fn}
			as.args = nil
			return
		}
		as.pop()
	}
	as.finish(nil, err)
}

// finish ends the flow: the program for the main flow, a branch otherwise.
func (as *AsyncSteps) finish(args []any, err *Error) {
	as.state = flowDone
	as.stack, as.queue = nil, nil
	if p := as.parent; p != nil {
		p.branchDone(as, err)
		return
	}
	r := as.r
	select {
	case <-r.done:
		return
	default:
	}
	if r.stopCtx != nil {
		r.stopCtx()
	}
	r.result, r.err = args, err
	close(r.done)
}

// Parallel is the builder returned by [AsyncSteps.Parallel]: each Add
// registers one branch.
type Parallel struct {
	defs []*stepDef
}

// Add registers a branch: step, with its own error handler (nil for
// none), runs as a separate flow sharing the program's State. Add must be
// called before the parallel step starts (in the same step or set-up that
// called Parallel). It returns p for chaining.
func (p *Parallel) Add(step Step, onError ErrorHandler) *Parallel {
	p.defs = append(p.defs, &stepDef{fn: step, onErr: onError})
	return p
}

// Parallel adds a step that runs branches side by side and completes when
// all of them have; register the branches on the returned builder. The
// branches interleave on the program's goroutine: each runs until it
// waits, so their calls and timers overlap. A branch's Success arguments
// are dropped (share results through State); the first branch to fail
// cancels the others and its error goes to onError, then outwards.
func (as *AsyncSteps) Parallel(onError ErrorHandler) *Parallel {
	p := &Parallel{}
	as.push(&stepDef{kind: parallelStep, onErr: onError, par: p})
	return p
}

func (as *AsyncSteps) startParallel(fr *frame) {
	defs := fr.def.par.defs
	if len(defs) == 0 {
		as.pop()
		return
	}
	fr.branches = make([]*AsyncSteps, len(defs))
	for i, d := range defs {
		fr.branches[i] = &AsyncSteps{r: as.r, queue: []*stepDef{d}, parent: as, pframe: fr, state: flowRunnable}
	}
	fr.pending = len(defs)
	fr.waiting = true
	as.state = flowWaiting
	for _, b := range fr.branches {
		as.r.post(b.resume)
	}
}

// branchDone is told that branch b of the parallel frame finished.
func (as *AsyncSteps) branchDone(b *AsyncSteps, err *Error) {
	fr := b.pframe
	if !fr.live || as.top() != fr || as.state != flowWaiting {
		return
	}
	if err != nil {
		for _, o := range fr.branches {
			if o != b {
				o.abort()
			}
		}
		fr.branches = nil
		as.fail(err)
		as.r.post(as.resume)
		return
	}
	fr.pending--
	if fr.pending == 0 {
		fr.branches = nil
		as.pop()
		as.args = nil
		as.state = flowRunnable
		as.r.post(as.resume)
	}
}

// Loop adds a step that runs body again and again until it calls Break
// (or fails). label, if given, names the loop for Break and Continue.
func (as *AsyncSteps) Loop(body func(as *AsyncSteps), label ...string) *AsyncSteps {
	as.addLoop(&loopDef{count: -1, body: func(as *AsyncSteps, _ int) { body(as) }}, label)
	return as
}

// Repeat adds a step that runs body count times, with i from 0.
func (as *AsyncSteps) Repeat(count int, body func(as *AsyncSteps, i int), label ...string) *AsyncSteps {
	if count < 0 {
		count = 0
	}
	as.addLoop(&loopDef{count: count, body: body}, label)
	return as
}

// ForEach adds a step that runs body once per element of coll, a slice,
// an array or a map, read when the step starts. For a slice the key is
// the index (an int). Maps are visited in sorted key order, since Go maps
// have no order: numbers by value first (NaN first of all), then strings,
// then other keys by their fmt form (keys with the same form in no
// particular order). Any other coll fails the step with InvokerError, and
// a panic while reading coll (a String method of a key) with
// InternalError.
func (as *AsyncSteps) ForEach(coll any, body func(as *AsyncSteps, key, value any), label ...string) *AsyncSteps {
	var keys, vals []any
	ld := &loopDef{}
	ld.setup = func(as *AsyncSteps, _ ...any) {
		var err *Error
		keys, vals, err = entries(coll)
		if err != nil {
			panic(&stepPanic{err})
		}
		ld.count = len(keys)
	}
	ld.body = func(as *AsyncSteps, i int) { body(as, keys[i], vals[i]) }
	as.addLoop(ld, label)
	return as
}

func (as *AsyncSteps) addLoop(ld *loopDef, label []string) {
	if len(label) > 0 {
		ld.label = label[0]
	}
	as.push(&stepDef{kind: loopStep, loop: ld})
}

// Break leaves the innermost loop, or with a label the loop of that name,
// after running the cancel handlers of the steps it leaves. It does not
// return. Error handlers do not see loop control (unlike the JS reference,
// where they see LoopBreak); a Break with no such loop around it is an
// InternalError. The label goes to State()[StateErrorInfo], as FTN12 asks.
func (as *AsyncSteps) Break(label ...string) {
	as.loopCtl(true, label)
}

// Continue starts the next iteration of the innermost loop, or of the
// loop named label; otherwise as Break.
func (as *AsyncSteps) Continue(label ...string) {
	as.loopCtl(false, label)
}

func (as *AsyncSteps) loopCtl(brk bool, label []string) {
	if as.cur == nil {
		panic("ccm: AsyncSteps.Break or Continue called outside a step")
	}
	p := &loopPanic{brk: brk}
	if len(label) > 0 {
		p.label = label[0]
	}
	panic(p)
}

// Syncer is a synchronisation primitive for [AsyncSteps.Sync] (FTN12
// ISync): Sync adds to as the steps that enter the critical section, run
// step (with onError) inside it and leave it, also on error and cancel.
// The arguments reaching the first added step go to step, and step's
// results flow on. [Mutex], [Throttle] and [Limiter] implement it.
type Syncer interface {
	Sync(as *AsyncSteps, step Step, onError ErrorHandler)
}

// Sync adds step guarded by obj. A full wait queue fails with
// DefenseRejected in the entering step, before step and onError are
// installed, so the handler around the Sync call sees it (as in the JS
// reference).
func (as *AsyncSteps) Sync(obj Syncer, step Step, onError ErrorHandler) *AsyncSteps {
	obj.Sync(as, step, onError)
	return as
}

// String describes the program's state for debugging.
func (as *AsyncSteps) String() string {
	select {
	case <-as.r.done:
		return "AsyncSteps{done}"
	default:
	}
	return fmt.Sprintf("AsyncSteps{executed=%v}", as.r.executed.Load())
}
