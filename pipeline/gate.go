package pipeline

import "sync"

// Gate is a step that may make a call wait without holding a goroutine: a
// limiter shared by many pipelines, for example. It sits in the leading run
// of steps (before the first stage), where calls run in the goroutine that
// submitted them.
//
// Enter decides, without blocking, what happens to c:
//
//   - it admits c and returns true: the pipeline runs the next step at once,
//     in the same goroutine (the fast path; nothing is queued);
//   - it completes c (a rejection) and returns false;
//   - it parks c and returns false: the gate now owns c and, later, either
//     calls r.Continue(c) to let it go on with the remaining steps, or
//     completes it. A parked call must leave the gate when it completes
//     elsewhere (deadline, cancel): the gate registers a [Cleanup] for that.
//
// Drop is called once by [Pipeline.Close] of every pipeline the gate is
// part of: it takes every call parked on behalf of that pipeline
// (r.Pipeline() == p) out of the gate and returns them; the pipeline
// completes them with ConnectError. Calls of other pipelines stay.
//
// Both methods must be safe for concurrent use, must not block, and must
// not call Continue or Complete while holding a lock that a [Cleanup] of
// theirs takes.
type Gate interface {
	Enter(c *Call, r Resume) (admitted bool)
	Drop(p *Pipeline) []*Call
}

// Resume continues a call that a [Gate] parked: it names the pipeline and
// the step after the gate. It is a small value; gates store it with the
// parked call.
type Resume struct {
	p  *Pipeline
	at int
}

// Pipeline returns the pipeline the parked call belongs to.
func (r Resume) Pipeline() *Pipeline { return r.p }

// Continue hands the parked call c back to its pipeline, which runs the
// steps after the gate and passes it on to the first stage. Continue never
// blocks and does no work in the caller's goroutine besides appending c to
// the pipeline's resume lane: a gate may call it from any goroutine (a
// connection's reader completing another call, a timer). The lane is served
// by one goroutine per pipeline that has gates; it blocks on back-pressure
// as Submit does. On a closed pipeline c completes with ConnectError.
func (r Resume) Continue(c *Call) {
	r.p.lane.push(c, r.at)
}

// G makes a gate step. Gates must come before the first stage; [New] panics
// otherwise.
func G(name string, g Gate) Step { return Step{name: name, g: g} }

// resumeLane is the list of calls that gates let go, waiting for the
// pipeline's resume worker. It grows only by calls a gate admitted, so its
// length is bounded by what the gates let through (a concurrency limit
// bounds it; a rate limit bounds how fast it grows).
type resumeLane struct {
	mu      sync.Mutex
	calls   []resumed
	stopped *Error        // set once the worker is gone: what later pushes get
	wake    chan struct{} // 1-buffered: a pending wake-up
}

type resumed struct {
	c  *Call
	at int
}

func (l *resumeLane) push(c *Call, at int) {
	l.mu.Lock()
	if err := l.stopped; err != nil {
		l.mu.Unlock()
		c.Complete(nil, err)
		return
	}
	l.calls = append(l.calls, resumed{c, at})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// take returns the queued calls, swapping in spare (emptied) as the new
// list so that two slices alternate without allocating.
func (l *resumeLane) take(spare []resumed) []resumed {
	l.mu.Lock()
	got := l.calls
	l.calls = spare[:0]
	l.mu.Unlock()
	return got
}

// stop makes later pushes complete with err and returns what is still
// queued.
func (l *resumeLane) stop(err *Error) []resumed {
	l.mu.Lock()
	l.stopped = err
	got := l.calls
	l.calls = nil
	l.mu.Unlock()
	return got
}

// resumeLoop is the worker behind the resume lane: it runs the steps after
// the gate for each resumed call and forwards it, blocking on back-pressure
// (never longer than the call's context or the pipeline's life).
//
// A step that panics here completes its call with InvokerError (runInline
// does); the worker then fails every other call of the lane, now and
// later, with InvokerError before the panic reaches Close.
func (p *Pipeline) resumeLoop() {
	var batch []resumed
	defer func() {
		if r := recover(); r != nil {
			err := Errorf(InvokerError, "resume worker panicked: %v", r)
			for _, b := range append(batch, p.lane.stop(err)...) {
				if b.c != nil {
					b.c.Complete(nil, err)
				}
			}
			panic(r)
		}
	}()
	for {
		select {
		case <-p.lane.wake:
		case <-p.closing:
			err := NewError(ConnectError, "pipeline closed")
			for _, r := range p.lane.stop(err) {
				r.c.Complete(nil, err)
			}
			return
		}
		batch = p.lane.take(batch)
		for i, r := range batch {
			batch[i] = resumed{}
			p.continueAt(r.c, r.at)
		}
	}
}

// continueAt runs the leading steps from index at and forwards c, as
// Submit does from the start.
func (p *Pipeline) continueAt(c *Call, at int) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		c.Complete(nil, NewError(ConnectError, "pipeline closed"))
		return
	}
	if p.runInline(c, at) {
		p.forward(c)
	}
}

// dropParked takes the calls parked in the pipeline's gates and completes
// them; Close calls it once intake has stopped, so no call parks later.
func (p *Pipeline) dropParked() {
	for _, g := range p.gates {
		for _, c := range g.Drop(p) {
			c.Complete(nil, NewError(ConnectError, "pipeline closed while the call waited in a limit zone"))
		}
	}
}
