package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
)

// parkGate parks every call whose function starts with "park" and admits
// the rest. It records what it saw; the test resumes parked calls by hand.
type parkGate struct {
	mu      sync.Mutex
	parked  []parkedCall
	entered []int // Attempt of every call that entered
	dropped []*pipeline.Pipeline
}

type parkedCall struct {
	c *pipeline.Call
	r pipeline.Resume
}

func (g *parkGate) Enter(c *pipeline.Call, r pipeline.Resume) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entered = append(g.entered, c.Attempt)
	if !strings.HasPrefix(c.Req.F, "park") {
		return true
	}
	g.parked = append(g.parked, parkedCall{c, r})
	return false
}

func (g *parkGate) Drop(p *pipeline.Pipeline) []*pipeline.Call {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropped = append(g.dropped, p)
	var out []*pipeline.Call
	kept := g.parked[:0]
	for _, pc := range g.parked {
		if pc.r.Pipeline() == p {
			out = append(out, pc.c)
		} else {
			kept = append(kept, pc)
		}
	}
	g.parked = kept
	return out
}

// take removes and returns the parked calls.
func (g *parkGate) take() []parkedCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.parked
	g.parked = nil
	return out
}

// gated builds await-like → gate → "after" transform → sink, where after
// records the goroutine it ran in.
func gated(g pipeline.Gate, sink pipeline.Stage, opts ...pipeline.Option) (*pipeline.Pipeline, *sync.Map) {
	ran := &sync.Map{} // call → goroutine id of the step after the gate
	p := pipeline.New([]pipeline.Step{
		pipeline.T("before", func(*pipeline.Call) error { return nil }),
		pipeline.G("gate", g),
		pipeline.T("after", func(c *pipeline.Call) error { ran.Store(c, goid()); return nil }),
		pipeline.S("sink", sink, 1),
	}, opts...)
	return p, ran
}

// TestGateFastPathInline: an admitted call runs the steps after the gate in
// the submitting goroutine, with no hand-off.
func TestGateFastPathInline(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	p, ran := gated(g, echo())
	defer closeP(t, p)
	c := newCall("go")
	p.Submit(c)
	res, err := wait(t, c)
	is.NoErr(err)
	is.Equal(res, "go")
	id, _ := ran.Load(c)
	is.Equal(id, goid()) // the step after the gate ran inline
}

// TestGateParkAndResume: Submit returns for a parked call without running
// the later steps; Continue runs them (in the pipeline's resume worker) and
// the call completes through the sink.
func TestGateParkAndResume(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	p, ran := gated(g, echo())
	defer closeP(t, p)
	c := newCall("park1")
	p.Submit(c) // returns: the call waits in the gate
	is.True(!c.IsDone())
	_, after := ran.Load(c)
	is.True(!after) // the steps after the gate did not run
	parked := g.take()
	is.Equal(len(parked), 1)
	parked[0].r.Continue(parked[0].c)
	res, err := wait(t, c)
	is.NoErr(err)
	is.Equal(res, "park1")
	id, _ := ran.Load(c)
	is.True(id != goid()) // resumed in the pipeline's worker, not here
}

// TestGateContinueNeverBlocks: Continue returns at once even while the
// first stage is stuck and its channel full; the calls go on once it
// moves.
func TestGateContinueNeverBlocks(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	release := make(chan struct{})
	stuck := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		<-release
		for c := range in {
			c.Complete(c.Req.F, nil)
		}
		return nil
	})
	p, _ := gated(g, stuck, pipeline.WithBuffer(1))
	defer closeP(t, p)
	const n = 20 // far more than the channels hold
	calls := make([]*pipeline.Call, n)
	for i := range calls {
		calls[i] = newCall("park")
		p.Submit(calls[i])
	}
	parked := g.take()
	is.Equal(len(parked), n)
	for _, pc := range parked {
		pc.r.Continue(pc.c) // would hang here if Continue waited for room
	}
	close(release)
	for _, c := range calls {
		_, err := wait(t, c)
		is.NoErr(err)
	}
}

// TestGateCloseDropsParked: Close completes the calls parked for the
// closing pipeline with ConnectError and leaves another pipeline's parked
// calls in the shared gate; a late Continue on the closed pipeline
// completes the call with ConnectError.
func TestGateCloseDropsParked(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	p1, _ := gated(g, echo())
	p2, _ := gated(g, echo())
	defer closeP(t, p2)
	a, b := newCall("park-a"), newCall("park-b")
	p1.Submit(a)
	p2.Submit(b)
	is.NoErr(p1.Close())
	_, err := wait(t, a)
	is.Equal(pipeline.NameOf(err), pipeline.ConnectError) // dropped at Close
	is.True(!b.IsDone())                                  // the other pipeline's call still waits
	is.Equal(g.dropped, []*pipeline.Pipeline{p1})

	parked := g.take()
	is.Equal(len(parked), 1)
	parked[0].r.Continue(parked[0].c)
	res, err := wait(t, b)
	is.NoErr(err)
	is.Equal(res, "park-b")

	c3 := newCall("park-late")
	p1.Submit(c3)
	_, err = wait(t, c3)
	is.Equal(pipeline.NameOf(err), pipeline.ConnectError) // closed: never parked
	is.Equal(len(g.take()), 0)
}

// TestGateLateContinue: a gate that lets a call go after its pipeline
// closed gets the call completed with ConnectError, not lost.
func TestGateLateContinue(t *testing.T) {
	is := is.New(t)
	var held []parkedCall
	g := &holdGate{hold: &held}
	p, _ := gated(g, echo())
	c := newCall("park")
	p.Submit(c)
	is.NoErr(p.Close()) // holdGate.Drop returns nothing: it keeps the call
	is.True(!c.IsDone())
	held[0].r.Continue(c)
	_, err := wait(t, c)
	is.Equal(pipeline.NameOf(err), pipeline.ConnectError)
}

// holdGate parks everything and never gives calls up at Drop.
type holdGate struct{ hold *[]parkedCall }

func (g *holdGate) Enter(c *pipeline.Call, r pipeline.Resume) bool {
	*g.hold = append(*g.hold, parkedCall{c, r})
	return false
}
func (g *holdGate) Drop(*pipeline.Pipeline) []*pipeline.Call { return nil }

// TestGateSeesRetries: Resubmit runs the gate again, with the attempt
// number set, and a parked retry goes on when resumed.
func TestGateSeesRetries(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	p, _ := gated(g, echo())
	defer closeP(t, p)
	c := newCall("park-retry")
	c.Attempt = 1
	p.Resubmit(c, pipeline.NewError(pipeline.CommError, "lost"))
	is.True(!c.IsDone()) // parked, not failed with the old error
	parked := g.take()
	is.Equal(len(parked), 1)
	parked[0].r.Continue(c)
	res, err := wait(t, c)
	is.NoErr(err)
	is.Equal(res, "park-retry")
	g.mu.Lock()
	is.Equal(g.entered, []int{1})
	g.mu.Unlock()
}

// TestGateAfterStagePanics: a gate must sit in the leading run.
func TestGateAfterStagePanics(t *testing.T) {
	is := is.New(t)
	defer func() { is.True(recover() != nil) }()
	pipeline.New([]pipeline.Step{pipeline.S("s", pass(), 1), pipeline.G("g", &parkGate{}), pipeline.S("sink", echo(), 1)})
}

// TestGatePanicInResumedStep: a step after the gate that panics in the
// resume worker completes its call, and the calls behind it too, with
// InvokerError; Close carries the panic.
func TestGatePanicInResumedStep(t *testing.T) {
	is := is.New(t)
	g := &parkGate{}
	p := pipeline.New([]pipeline.Step{
		pipeline.G("gate", g),
		pipeline.T("boom", func(c *pipeline.Call) error {
			if c.Req.F == "park-boom" {
				panic("kaboom")
			}
			return nil
		}),
		pipeline.S("sink", echo(), 1),
	})
	boom, behind := newCall("park-boom"), newCall("park-behind")
	p.Submit(boom)
	p.Submit(behind)
	for _, pc := range g.take() {
		pc.r.Continue(pc.c)
	}
	_, err := wait(t, boom)
	is.Equal(pipeline.NameOf(err), pipeline.InvokerError)
	_, err = wait(t, behind)
	is.Equal(pipeline.NameOf(err), pipeline.InvokerError) // failed, not lost
	defer func() { is.True(recover() != nil) }()          // Close re-panics
	_ = p.Close()
}
