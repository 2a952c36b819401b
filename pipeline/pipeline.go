package pipeline

import (
	"context"
	"sync"

	"github.com/sourcegraph/conc"
)

// Transform is a cheap synchronous step on a call: assign a rid, sign,
// encode, verify. It mutates the call and returns nil to pass it on; a
// non-nil error makes the pipeline fail the call with it (see
// [Pipeline.Fail]) instead of forwarding it. A Transform must not block and
// must not complete the call itself.
type Transform func(c *Call) error

// Stage is a step that waits for something: a limiter, a socket, a timer.
// Run reads calls from in until in is closed, and for each call either
// forwards it to out, completes it, or hands it to a component that will
// (a pending table, [Pipeline.Fail]). It must never drop a call.
//
// ctx ends when the pipeline closes; Run should then stop waiting, finish
// what it holds (completing calls it cannot carry on) and keep reading in
// until it is closed. Run may return early with an error: the pipeline
// then fails every call still arriving on in. Run never closes out; the
// pipeline does, after every worker of the stage has returned.
type Stage interface {
	Run(ctx context.Context, in <-chan *Call, out chan<- *Call) error
}

// StageFunc adapts a function to [Stage].
type StageFunc func(ctx context.Context, in <-chan *Call, out chan<- *Call) error

// Run calls f.
func (f StageFunc) Run(ctx context.Context, in <-chan *Call, out chan<- *Call) error {
	return f(ctx, in, out)
}

// Step is one element of a pipeline: a named Transform, a Stage with its
// worker count, or a Gate. Build steps with [T], [S] and [G].
type Step struct {
	name    string
	t       Transform
	s       Stage
	g       Gate
	workers int
}

// T makes a transform step.
func T(name string, t Transform) Step { return Step{name: name, t: t} }

// S makes a stage step run by workers goroutines (at least 1).
func S(name string, s Stage, workers int) Step {
	if workers < 1 {
		panic("pipeline: stage " + name + " needs at least one worker")
	}
	return Step{name: name, s: s, workers: workers}
}

// Failover decides what happens to a call that failed with err. It returns
// true when it took ownership of the call (for example to retry it later),
// false to let the pipeline complete the call with err.
type Failover func(c *Call, err error) bool

// Option configures a [Pipeline].
type Option func(*Pipeline)

// WithBuffer sets the capacity of every channel between segments (default
// 64). Size it near the number of workers that feed a channel; a large
// buffer is no substitute for back-pressure.
func WithBuffer(n int) Option { return func(p *Pipeline) { p.buffer = n } }

// WithDirect installs a direct lane: after the leading transforms, Submit
// offers the call to try while nothing is queued for the first stage; when
// try reports true it has taken the call (a transport writing it at once,
// from the caller's goroutine). The lane saves a goroutine hand-off for a
// lone call and is bypassed under load, when batching pays.
func WithDirect(try func(c *Call) bool) Option { return func(p *Pipeline) { p.direct = try } }

// WithUrgent installs an urgent lane: after the leading transforms, Submit
// offers every call to try first, whatever is queued; when try reports
// true it has taken the call. The in-process sink uses it for calls made
// from inside one of its own handlers, which must not wait behind the
// workers that are waiting for them.
func WithUrgent(try func(c *Call) bool) Option { return func(p *Pipeline) { p.urgent = try } }

// WithFailover installs f as the failure policy, typically a retry lane.
func WithFailover(f Failover) Option { return func(p *Pipeline) { p.failover = f } }

// OnClose registers f to run after every worker has returned during
// [Pipeline.Close]; components that hold calls outside channels (pending
// tables, retry timers) complete them there.
func OnClose(f func()) Option {
	return func(p *Pipeline) { p.onClose = append(p.onClose, f) }
}

// inlineStep is a step of the leading run: a transform or a gate.
type inlineStep struct {
	t Transform
	g Gate
}

type segment struct {
	name    string
	stage   Stage
	workers int
}

// Pipeline runs a fixed chain of steps. It owns every channel between them,
// starts and joins every worker, and guarantees that each submitted call
// completes exactly once, also across Close.
//
// A run of neighbouring transforms is fused into one loop: no channel hop
// between them. A leading run (before the first stage) executes in the
// goroutine that calls Submit, so it costs no hop at all; any later run gets
// one goroutine. Each stage runs with its own number of workers. Gates sit
// in the leading run and may park a call without a goroutine; a pipeline
// with gates runs one extra worker that resumes parked calls (see the
// package doc).
//
// The zero value is not usable; build one with [New]. Workers start on the
// first Submit (or Start), so an unused pipeline holds no goroutines. All
// methods are safe for concurrent use.
type Pipeline struct {
	inline   []inlineStep
	gates    []Gate
	lane     resumeLane
	segs     []segment
	buffer   int
	failover Failover
	direct   func(c *Call) bool
	urgent   func(c *Call) bool
	onClose  []func()

	startOnce sync.Once
	closeOnce sync.Once
	closing   chan struct{}
	mu        sync.RWMutex // excludes Submit's send from Close's close(in)
	closed    bool
	started   bool
	in        chan *Call
	lifeMu    sync.Mutex // guards cancel for Close, which must not wait for mu first
	ctx       context.Context
	cancel    context.CancelFunc
	wg        conc.WaitGroup
	errMu     sync.Mutex
	err       error
}

// New builds a pipeline from steps. The last step must be a stage (the
// sink); a call that a sink forwards instead of completing is failed with
// InvokerError.
func New(steps []Step, opts ...Option) *Pipeline {
	p := &Pipeline{buffer: 64, closing: make(chan struct{})}
	p.lane.wake = make(chan struct{}, 1)
	for _, o := range opts {
		o(p)
	}
	i := 0
	for ; i < len(steps) && steps[i].s == nil; i++ {
		p.inline = append(p.inline, inlineStep{t: steps[i].t, g: steps[i].g})
		if steps[i].g != nil {
			p.gates = append(p.gates, steps[i].g)
		}
	}
	for i < len(steps) {
		if steps[i].g != nil {
			panic("pipeline: gate " + steps[i].name + " must come before the first stage")
		}
		if steps[i].s != nil {
			p.segs = append(p.segs, segment{name: steps[i].name, stage: steps[i].s, workers: steps[i].workers})
			i++
			continue
		}
		var run []Transform
		name := steps[i].name
		for ; i < len(steps) && steps[i].t != nil; i++ {
			run = append(run, steps[i].t)
		}
		if len(run) == 0 {
			continue // a gate: the check above panics
		}
		p.segs = append(p.segs, segment{name: name, stage: p.fused(run), workers: 1})
	}
	if len(p.segs) == 0 || steps[len(steps)-1].s == nil {
		panic("pipeline: the last step must be a stage")
	}
	return p
}

// fused returns a stage that runs ts in order on every call.
func (p *Pipeline) fused(ts []Transform) Stage {
	return StageFunc(func(ctx context.Context, in <-chan *Call, out chan<- *Call) error {
		for c := range in {
			if err := runTransforms(ts, c); err != nil {
				p.Fail(c, err)
				continue
			}
			if c.IsDone() {
				continue // completed meanwhile (deadline, cancel): no hop for it
			}
			out <- c
		}
		return nil
	})
}

// runInline runs the leading steps from index from on c, in the calling
// goroutine. It reports whether c goes on to the first stage; when it does
// not, c was completed, handed to Fail, or parked in a gate.
func (p *Pipeline) runInline(c *Call, from int) (forward bool) {
	defer func() {
		if r := recover(); r != nil {
			c.Complete(nil, Errorf(InvokerError, "step panicked: %v", r))
			panic(r)
		}
	}()
	for i := from; i < len(p.inline); i++ {
		if c.IsDone() {
			return false // completed elsewhere (timeout, cancel): nothing to do
		}
		st := &p.inline[i]
		if st.g != nil {
			if !st.g.Enter(c, Resume{p: p, at: i + 1}) {
				return false // parked or rejected: the gate owns it
			}
			continue
		}
		if err := st.t(c); err != nil {
			p.Fail(c, err)
			return false
		}
	}
	return !c.IsDone()
}

func runTransforms(ts []Transform, c *Call) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.Complete(nil, Errorf(InvokerError, "transform panicked: %v", r))
			panic(r)
		}
	}()
	for _, t := range ts {
		if c.IsDone() {
			return nil // completed elsewhere (timeout, cancel): nothing to do
		}
		if err = t(c); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the workers with ctx as the pipeline's lifetime context. It
// is called by the first Submit when not called before; later calls do
// nothing.
func (p *Pipeline) Start(ctx context.Context) {
	p.startOnce.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		p.lifeMu.Lock()
		p.ctx, p.cancel = context.WithCancel(ctx)
		p.lifeMu.Unlock()
		p.in = make(chan *Call, p.buffer)
		if len(p.gates) > 0 {
			p.wg.Go(p.resumeLoop)
		}
		in := p.in
		for _, sg := range p.segs {
			out := make(chan *Call, p.buffer)
			p.runSegment(sg, in, out)
			in = out
		}
		// The terminal drain: a sink forwards nothing; a call that arrives
		// here was dropped by a bug and still gets its one completion.
		tail := in
		p.wg.Go(func() {
			for c := range tail {
				c.Complete(nil, NewError(InvokerError, "call left the pipeline without a response"))
			}
		})
		p.started = true
	})
}

func (p *Pipeline) runSegment(sg segment, in <-chan *Call, out chan *Call) {
	var swg sync.WaitGroup
	swg.Add(sg.workers)
	for w := 0; w < sg.workers; w++ {
		p.wg.Go(func() {
			defer swg.Done()
			err, panicked := runStage(p.ctx, sg.stage, in, out)
			if err != nil {
				p.setErr(Errorf(InvokerError, "stage %s: %w", sg.name, err))
			}
			// Whatever still arrives has nobody to carry it on.
			stopped := NewError(ConnectError, "stage "+sg.name+" stopped")
			if panicked != nil {
				stopped = Errorf(InvokerError, "stage %s panicked: %v", sg.name, panicked)
			}
			for c := range in {
				c.Complete(nil, stopped)
			}
			if panicked != nil {
				// Carried to Close by the wait group: a crash is not hidden,
				// but it waits until the pipeline has failed every call it
				// still had.
				panic(panicked)
			}
		})
	}
	p.wg.Go(func() {
		swg.Wait()
		close(out)
	})
}

// runStage runs a stage, turning a panic into a value so that the worker
// can still fail the calls that keep arriving before it re-panics.
func runStage(ctx context.Context, st Stage, in <-chan *Call, out chan<- *Call) (err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	return st.Run(ctx, in, out), nil
}

func (p *Pipeline) setErr(err error) {
	p.errMu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.errMu.Unlock()
}

// Submit hands c to the pipeline, which from then on completes it exactly
// once. It runs the leading steps in the caller's goroutine (a gate may
// park c there, and Submit returns), then blocks while the first channel is
// full (back-pressure), until c's context ends (c then completes with
// Timeout) or the pipeline closes (c completes with ConnectError).
func (p *Pipeline) Submit(c *Call) {
	p.Start(context.Background())
	p.mu.RLock()
	defer p.mu.RUnlock() // deferred: a panicking step must not keep the lock
	if p.closed {
		c.Complete(nil, NewError(ConnectError, "pipeline closed"))
		return
	}
	if p.runInline(c, 0) {
		p.forward(c)
	}
}

// forward passes c to the first stage: through the urgent or the direct
// lane when one takes c, else into the first channel, waiting while it is
// full. The caller holds p.mu for reading.
func (p *Pipeline) forward(c *Call) {
	if p.urgent != nil && p.urgent(c) || p.direct != nil && len(p.in) == 0 && p.direct(c) {
		return
	}
	select {
	case p.in <- c:
	case <-c.ctx.Done():
		c.Complete(nil, c.ctx.Err())
	case <-c.Done(): // completed while waiting (the call timeout of stage.Await)
	case <-p.closing:
		c.Complete(nil, NewError(ConnectError, "pipeline closed"))
	}
}

// Resubmit re-enters c at the start of the pipeline without blocking; it is
// what a retry lane calls. Gates see the call again (a gate may park it).
// When the first channel is full or the pipeline is closing, c completes
// with err instead.
func (p *Pipeline) Resubmit(c *Call, err error) {
	p.Start(context.Background())
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		c.Complete(nil, err)
		return
	}
	if !p.runInline(c, 0) {
		return
	}
	select {
	case p.in <- c:
	default:
		c.Complete(nil, err)
	}
}

// Fail disposes of a call that failed with err: the failover (retry) may
// take it; otherwise, or once the pipeline is closing, it completes with
// err. Stages and components call Fail instead of Complete for transport
// failures so that the retry policy lives in one place.
func (p *Pipeline) Fail(c *Call, err error) {
	if p.failover != nil && !p.Closing() && p.failover(c, err) {
		return
	}
	c.Complete(nil, err)
}

// Closing reports whether Close has begun.
func (p *Pipeline) Closing() bool {
	select {
	case <-p.closing:
		return true
	default:
		return false
	}
}

// Context returns the pipeline's lifetime context, or nil before Start.
func (p *Pipeline) Context() context.Context { return p.ctx }

// Close stops intake, cancels the lifetime context, lets every stage drain
// its input, joins every worker, runs the OnClose hooks, and so completes
// every call it was ever given. Later Submits complete at once with
// ConnectError. Close is safe to call more than once; it returns the first
// error a stage returned.
//
// A stage that panics does not take the process down at once: its worker
// fails every call still reaching the stage with InvokerError, and Close
// re-panics with the value (sourcegraph/conc carries it), so the crash is
// reported once the pipeline has completed what it could. Calls the stage
// held when it panicked complete by their deadlines or at Close.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		// Cancel first: a stage (or a direct write) blocked on a peer is
		// released by the end of the lifetime context, and Submit may hold
		// the read lock while it waits for one.
		p.lifeMu.Lock()
		if p.cancel != nil {
			p.cancel()
		}
		p.lifeMu.Unlock()
		p.mu.Lock()
		p.closed = true
		started := p.started
		if started {
			close(p.in)
		}
		p.mu.Unlock()
		// No call parks any more (Submit and Resubmit hold the read lock
		// while they run the gates): fail those that wait in a gate.
		p.dropParked()
		// The hooks run even when Wait re-panics with a stage's panic, so
		// the calls held in pending tables and retry lanes still complete.
		defer func() {
			for _, f := range p.onClose {
				f()
			}
		}()
		if started {
			p.wg.Wait()
		}
	})
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}
