package source_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/source"
	"github.com/ftnpipe/ccm/stage"
)

// peer is a real pipeline (await stage, then one answering stage) whose
// answer depends on the function: "echo" returns params["i"], "fail"
// fails, "hold" waits for release (or the call's context), "swap" holds
// an even-numbered call until the next call has been answered.
type peer struct {
	p       *pipeline.Pipeline
	arrived chan struct{}
	release chan struct{}
}

func newPeer(t *testing.T) *peer {
	pr := &peer{arrived: make(chan struct{}, 1000), release: make(chan struct{})}
	answer := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		var held []*pipeline.Call
		var swapped *pipeline.Call
		for c := range in {
			switch c.Req.F[strings.LastIndexByte(c.Req.F, ':')+1:] {
			case "echo":
				c.Complete(c.Req.P["i"], nil)
			case "fail":
				c.Complete(nil, pipeline.RemoteError("MyError", "failed on purpose"))
			case "hold":
				held = append(held, c)
				pr.arrived <- struct{}{}
			case "swap":
				if c.Req.P["i"].(int)%2 == 0 {
					swapped = c
					continue
				}
				c.Complete(c.Req.P["i"], nil)
				if swapped != nil {
					swapped.Complete(swapped.Req.P["i"], nil)
					swapped = nil
				}
			}
			select {
			case <-pr.release:
				for _, h := range held {
					h.Complete("released", nil)
				}
				held = nil
			default:
			}
		}
		return nil
	})
	pr.p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(time.Minute)),
		pipeline.S("answer", answer, 1),
	})
	t.Cleanup(func() { _ = pr.p.Close() })
	return pr
}

func (pr *peer) start(ctx context.Context, fn string, params map[string]any) *pipeline.Call {
	c := pipeline.NewCall(ctx, "test:1.0:"+fn, params)
	pr.p.Submit(c)
	return c
}

// feed sends n requests for fn, then closes in.
func feed(in chan<- source.Request, fn string, n int) {
	for i := range n {
		in <- source.Request{Func: fn, Params: map[string]any{"i": i}, Tag: i}
	}
	close(in)
}

func TestStreamAnswersEveryRequest(t *testing.T) {
	is := is.New(t)
	pr := newPeer(t)
	in := make(chan source.Request)
	const n = 1000
	go feed(in, "echo", n)
	seen := make([]bool, n)
	count := 0
	for r := range source.Stream(context.Background(), in, pr.start, source.Window(8)) {
		is.NoErr(r.Err)
		is.Equal(r.Value, r.Request.Tag) // each result carries its request
		seen[r.Request.Tag.(int)] = true
		count++
	}
	is.Equal(count, n) // closing in drains, then closes the output
	for i := range seen {
		is.True(seen[i])
	}
}

func TestStreamErrors(t *testing.T) {
	is := is.New(t)
	pr := newPeer(t)
	in := make(chan source.Request)
	go feed(in, "fail", 3)
	n := 0
	for r := range source.Stream(context.Background(), in, pr.start) {
		is.Equal(pipeline.NameOf(r.Err), pipeline.ErrorName("MyError"))
		is.True(r.Value == nil)
		is.Equal(r.Request.Func, "fail")
		n++
	}
	is.Equal(n, 3)
}

func TestStreamOrder(t *testing.T) {
	collect := func(opts ...source.Option) []int {
		pr := newPeer(t)
		in := make(chan source.Request)
		go feed(in, "swap", 6)
		var got []int
		for r := range source.Stream(context.Background(), in, pr.start, opts...) {
			got = append(got, r.Value.(int))
		}
		return got
	}
	is := is.New(t)
	got := collect(source.Window(4))
	slices.Sort(got)
	is.Equal(got, []int{0, 1, 2, 3, 4, 5})                                         // each exactly once
	is.Equal(collect(source.Window(4), source.Ordered()), []int{0, 1, 2, 3, 4, 5}) // request order
}

func TestStreamCompletionOrder(t *testing.T) {
	is := is.New(t)
	pr := newPeer(t)
	in := make(chan source.Request, 2)
	in <- source.Request{Func: "hold", Tag: 0}
	in <- source.Request{Func: "echo", Params: map[string]any{"i": 1}, Tag: 1}
	close(in)
	out := source.Stream(context.Background(), in, pr.start)
	r := <-out
	is.Equal(r.Request.Tag, 1) // the held first request does not hold back the second
	close(pr.release)
	pr.p.Submit(pipeline.NewCall(context.Background(), "test:1.0:echo", nil)) // wakes the peer
	r = <-out
	is.Equal(r.Request.Tag, 0)
	_, open := <-out
	is.True(!open)
}

func TestStreamBackPressure(t *testing.T) {
	is := is.New(t)
	pr := newPeer(t)
	in := make(chan source.Request)
	out := source.Stream(context.Background(), in, pr.start, source.Window(3))
	for i := range 3 {
		in <- source.Request{Func: "hold", Tag: i}
	}
	for range 3 {
		<-pr.arrived
	}
	// Three calls are outstanding and nobody reads the output: the stream
	// is not reading requests, so a fourth cannot be handed over.
	select {
	case in <- source.Request{Func: "hold"}:
		t.Fatal("a fourth request was read with the window full")
	default:
	}
	close(pr.release)
	wake := pipeline.NewCall(context.Background(), "test:1.0:echo", nil)
	pr.p.Submit(wake) // the peer releases what it holds on its next call
	go func() {
		for i := 3; i < 10; i++ {
			in <- source.Request{Func: "hold", Tag: i}
		}
		close(in)
	}()
	n := 0
	for r := range out {
		is.Equal(r.Value, "released")
		n++
	}
	is.Equal(n, 10)
}

func TestStreamCancel(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		is := is.New(t)
		pr := newPeer(t)
		in := make(chan source.Request)
		defer close(in) // never read again after the cancel
		ctx, cancel := context.WithCancel(context.Background())
		var opts []source.Option
		if ordered {
			opts = append(opts, source.Ordered())
		}
		out := source.Stream(ctx, in, pr.start, opts...)
		for i := range 5 {
			in <- source.Request{Func: "hold", Tag: i}
		}
		for range 5 {
			<-pr.arrived
		}
		cancel()
		n := 0
		for r := range out {
			is.True(errors.Is(r.Err, context.Canceled)) // every outstanding call ends with ctx's error
			is.Equal(pipeline.NameOf(r.Err), pipeline.Timeout)
			n++
		}
		is.Equal(n, 5)
	}
}

// TestStreamReadsNothingAfterCtxEnd: with ctx already ended and requests
// waiting on in, the stream reads none of them, starts no call and closes
// its output; before the fix its selects picked the ready input at
// random, so some requests were read and started with a dead ctx.
func TestStreamReadsNothingAfterCtxEnd(t *testing.T) {
	pr := newPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		in := make(chan source.Request, 10)
		for i := range 10 {
			in <- source.Request{Func: "echo", Params: map[string]any{"i": i}, Tag: i}
		}
		started := 0
		start := func(ctx context.Context, fn string, p map[string]any) *pipeline.Call {
			started++
			return pr.start(ctx, fn, p)
		}
		results := 0
		for range source.Stream(ctx, in, start) {
			results++
		}
		if len(in) != 10 || started != 0 || results != 0 {
			t.Fatalf("%d requests read, %d calls started, %d results after ctx had ended; want none", 10-len(in), started, results)
		}
	}
}

// TestStreamStartsNothingOnceCtxEnds: when ctx ends while the stream runs
// (here: as the first call starts), no later request is started, though
// more are waiting and slots are free; the one started is answered. Before
// the fix further requests could be read and started.
func TestStreamStartsNothingOnceCtxEnds(t *testing.T) {
	pr := newPeer(t)
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		in := make(chan source.Request, 10)
		for i := range 10 {
			in <- source.Request{Func: "echo", Params: map[string]any{"i": i}, Tag: i}
		}
		started := 0
		start := func(ctx context.Context, fn string, p map[string]any) *pipeline.Call {
			started++
			cancel()
			return pr.start(ctx, fn, p)
		}
		results := 0
		for range source.Stream(ctx, in, start) {
			results++
		}
		if started != 1 || results != 1 || len(in) != 9 {
			t.Fatalf("started %d, results %d, %d read; want 1, 1, 1", started, results, 10-len(in))
		}
	}
}
