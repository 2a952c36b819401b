package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/matryer/is"
	"go.uber.org/goleak"
)

// guard bounds how long a test waits for something that must happen; it is
// a hang detector, never a timing assertion.
const guard = 10 * time.Second

// goid returns the id of the calling goroutine, read from its stack header
// ("goroutine 42 [running]:"). Tests use it to tell where a step ran.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := bytes.Fields(buf[:n])
	id, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		panic("cannot parse goroutine id: " + string(buf[:n]))
	}
	return id
}

// wait waits for c to complete and returns its outcome.
func wait(t *testing.T, c *pipeline.Call) (any, error) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatalf("call %s never completed", c.Req.F)
	}
	return c.Result()
}

func newCall(f string) *pipeline.Call {
	return pipeline.NewCall(context.Background(), f, nil)
}

// echo is a sink that completes every call with its function name.
func echo() pipeline.Stage {
	return pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		for c := range in {
			c.Complete(c.Req.F, nil)
		}
		return nil
	})
}

// pass is a stage that forwards every call.
func pass() pipeline.Stage {
	return pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		for c := range in {
			out <- c
		}
		return nil
	})
}

func closeP(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestNewPanicsOnBadWiring(t *testing.T) {
	for name, build := range map[string]func(){
		"no steps": func() { pipeline.New(nil) },
		"transform last": func() {
			pipeline.New([]pipeline.Step{pipeline.S("s", echo(), 1), pipeline.T("t", func(*pipeline.Call) error { return nil })})
		},
		"only transforms":    func() { pipeline.New([]pipeline.Step{pipeline.T("t", func(*pipeline.Call) error { return nil })}) },
		"stage of 0 workers": func() { pipeline.S("s", echo(), 0) },
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			defer func() { is.True(recover() != nil) }() // a wiring bug panics
			build()
		})
	}
}

func TestPipelineEcho(t *testing.T) {
	is := is.New(t)
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", echo(), 2)})
	defer closeP(t, p)
	for i := range 100 {
		c := newCall(fmt.Sprint("f", i))
		p.Submit(c)
		res, err := wait(t, c)
		is.NoErr(err)
		is.Equal(res, fmt.Sprint("f", i))
	}
	is.True(p.Context() != nil) // started by the first Submit
}

// TestPipelineFusedTransforms: a leading run of transforms executes in the
// Submit caller's goroutine; a later run of neighbouring transforms shares
// one goroutine (no hop between them), distinct from the stages'.
func TestPipelineFusedTransforms(t *testing.T) {
	is := is.New(t)
	var mu sync.Mutex
	where := map[string][]uint64{}
	rec := func(name string) {
		id := goid()
		mu.Lock()
		where[name] = append(where[name], id)
		mu.Unlock()
	}
	tr := func(name string) pipeline.Step {
		return pipeline.T(name, func(*pipeline.Call) error { rec(name); return nil })
	}
	st := func(name string, s pipeline.Stage) pipeline.Stage {
		return pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
			rec(name)
			return s.Run(ctx, in, out)
		})
	}
	p := pipeline.New([]pipeline.Step{
		tr("a"), tr("b"),
		pipeline.S("pass", st("pass", pass()), 1),
		tr("c"), tr("d"), tr("e"),
		pipeline.S("sink", st("sink", echo()), 1),
	})
	defer closeP(t, p)

	caller := goid()
	const n = 20
	for i := range n {
		c := newCall(fmt.Sprint(i))
		p.Submit(c)
		mu.Lock()
		ranA, ranB := len(where["a"]), len(where["b"])
		mu.Unlock()
		is.Equal(ranA, i+1) // the leading run is done when Submit returns
		is.Equal(ranB, i+1)
		_, err := wait(t, c)
		is.NoErr(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		is.Equal(len(where[name]), n) // every transform ran once per call
	}
	for i := range n {
		is.Equal(where["a"][i], caller) // leading transforms: in the caller's goroutine
		is.Equal(where["b"][i], caller)
		is.Equal(where["d"][i], where["c"][i]) // c, d, e fused into one loop
		is.Equal(where["e"][i], where["c"][i])
		is.True(where["c"][i] != caller)
		is.True(where["c"][i] != where["pass"][0]) // but not inside a stage
		is.True(where["c"][i] != where["sink"][0])
		is.Equal(where["c"][i], where["c"][0]) // always the same goroutine
	}
}

func TestPipelineTransformError(t *testing.T) {
	denied := pipeline.NewError(pipeline.DefenseRejected, "no")
	for _, tc := range []struct {
		name  string
		steps func(tr, next pipeline.Step, sink pipeline.Stage) []pipeline.Step
	}{
		{"leading", func(tr, next pipeline.Step, sink pipeline.Stage) []pipeline.Step {
			return []pipeline.Step{tr, next, pipeline.S("sink", sink, 1)}
		}},
		{"fused", func(tr, next pipeline.Step, sink pipeline.Stage) []pipeline.Step {
			return []pipeline.Step{pipeline.S("pass", pass(), 1), tr, next, pipeline.S("sink", sink, 1)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var reached, after atomic.Int32
			sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
				for c := range in {
					reached.Add(1)
					c.Complete("sent", nil)
				}
				return nil
			})
			tr := pipeline.T("check", func(c *pipeline.Call) error {
				switch c.Req.F {
				case "deny":
					return denied
				case "foreign":
					return errors.New("plain failure")
				}
				return nil
			})
			next := pipeline.T("after", func(c *pipeline.Call) error { after.Add(1); return nil })
			steps := tc.steps(tr, next, sink)
			failoverSaw := make(chan error, 8)
			p := pipeline.New(steps, pipeline.WithFailover(func(c *pipeline.Call, err error) bool {
				failoverSaw <- err
				return false
			}))
			defer closeP(t, p)

			c := newCall("deny")
			p.Submit(c)
			_, err := wait(t, c)
			is.True(err == denied) // completed with the transform's error, as is

			c = newCall("foreign")
			p.Submit(c)
			_, err = wait(t, c)
			is.True(errors.Is(err, pipeline.ErrInvokerError)) // a foreign error reads as InvokerError
			is.True(strings.Contains(err.Error(), "plain failure"))

			c = newCall("ok")
			p.Submit(c)
			res, err := wait(t, c)
			is.NoErr(err)
			is.Equal(res, "sent")

			is.Equal(reached.Load(), int32(1)) // failed calls were not forwarded
			is.Equal(after.Load(), int32(1))   // nor passed to the next transform
			is.Equal(len(failoverSaw), 2)      // the failure went through Fail (the failover)
			is.True(<-failoverSaw == denied)
		})
	}
}

// TestPipelineSkipsCompletedCalls: once a call completes elsewhere (its
// timer fired, its caller cancelled), the remaining transforms of a run do
// not touch it. (A fused run still forwards it to the next stage, which
// must check IsDone anyway; the leading run drops it at once.)
func TestPipelineSkipsCompletedCalls(t *testing.T) {
	for _, leading := range []bool{true, false} {
		t.Run(fmt.Sprint("leading=", leading), func(t *testing.T) {
			is := is.New(t)
			var after, reached atomic.Int32
			timedOut := pipeline.NewError(pipeline.Timeout, "timer fired")
			steps := []pipeline.Step{
				pipeline.T("expire", func(c *pipeline.Call) error {
					if c.Req.F == "expire" {
						c.Complete(nil, timedOut) // as an await timer would, concurrently
					}
					return nil
				}),
				pipeline.T("after", func(*pipeline.Call) error { after.Add(1); return nil }),
				pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
					for c := range in {
						reached.Add(1)
						c.Complete("sent", nil)
					}
					return nil
				}), 1),
			}
			if !leading {
				steps = append([]pipeline.Step{pipeline.S("pass", pass(), 1)}, steps...)
			}
			p := pipeline.New(steps)
			c := newCall("expire")
			p.Submit(c)
			ok := newCall("ok")
			p.Submit(ok)
			_, err := wait(t, ok)
			is.NoErr(err)
			closeP(t, p) // joins the workers: every call has passed every step
			_, err = c.Result()
			is.True(err == timedOut)
			is.Equal(after.Load(), int32(1)) // only the live call reached the next transform
			if leading {
				is.Equal(reached.Load(), int32(1)) // Submit does not hand a completed call on
			}
		})
	}
}

func TestPipelineTerminalDrain(t *testing.T) {
	is := is.New(t)
	// A sink that forwards instead of completing: a bug the pipeline
	// still turns into exactly one completion.
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", pass(), 1)})
	defer closeP(t, p)
	c := newCall("a:1.0:f")
	p.Submit(c)
	_, err := wait(t, c)
	is.True(errors.Is(err, pipeline.ErrInvokerError))
}

func TestPipelineStageReturnsError(t *testing.T) {
	is := is.New(t)
	boom := errors.New("boom")
	p := pipeline.New([]pipeline.Step{
		pipeline.T("noop", func(*pipeline.Call) error { return nil }),
		pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
			c := <-in
			c.Complete("first", nil)
			return boom // gives up after one call
		}), 1),
	})
	first := newCall("first")
	p.Submit(first)
	res, err := wait(t, first)
	is.NoErr(err)
	is.Equal(res, "first")

	for i := range 10 {
		c := newCall(fmt.Sprint("later", i))
		p.Submit(c)
		_, err := wait(t, c)
		is.True(errors.Is(err, pipeline.ErrConnectError)) // nobody carries it on: ConnectError
		is.True(strings.Contains(err.Error(), "sink"))    // names the stage
	}
	err = p.Close()
	is.True(err != nil)                                   // Close reports the stage's failure
	is.Equal(pipeline.NameOf(err), pipeline.InvokerError) // as InvokerError
	is.True(strings.Contains(err.Error(), "sink"))
	is.True(strings.Contains(err.Error(), "boom"))
	is.True(p.Close() == err)     // a second Close returns the same error
	is.True(errors.Is(err, boom)) // Close's error wraps what the stage returned
}

// gatedSink is a sink that announces each call on got and holds it until
// release is closed or the pipeline closes.
func gatedSink(got chan<- *pipeline.Call, release <-chan struct{}) pipeline.Stage {
	return pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		for c := range in {
			got <- c
			select {
			case <-release:
			case <-ctx.Done():
			}
			c.Complete("done", nil)
		}
		return nil
	})
}

// submitAsync runs Submit in a goroutine; the returned channel closes when
// Submit returns.
func submitAsync(p *pipeline.Pipeline, c *pipeline.Call) <-chan struct{} {
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		p.Submit(c)
	}()
	return returned
}

// await waits for ch to close (or deliver), failing after guard.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func mustBlock(t *testing.T, returned <-chan struct{}) {
	t.Helper()
	select {
	case <-returned:
		t.Fatal("Submit returned while the pipeline was full")
	case <-time.After(20 * time.Millisecond): // a window to catch a non-blocking Submit
	}
}

func TestPipelineSubmitBackpressure(t *testing.T) {
	is := is.New(t)
	got := make(chan *pipeline.Call, 8)
	release := make(chan struct{})
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", gatedSink(got, release), 1)}, pipeline.WithBuffer(0))

	first := newCall("first")
	p.Submit(first) // unbuffered: returns once the sink has it
	is.True(await(t, got, "the sink") == first)

	t.Run("cancel", func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := pipeline.NewCall(ctx, "cancelled", nil)
		returned := submitAsync(p, c)
		mustBlock(t, returned)
		is.True(!c.IsDone())
		cancel()
		await(t, returned, "Submit to honour the cancel")
		is.True(c.IsDone()) // completed before Submit returned
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrTimeout))
		is.True(errors.Is(err, context.Canceled))
	})
	t.Run("deadline", func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		c := pipeline.NewCall(ctx, "deadline", nil)
		returned := submitAsync(p, c)
		select {
		case <-returned:
		case <-time.After(guard):
			t.Fatal("Submit ignored the call's deadline")
		}
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrTimeout))
		is.True(errors.Is(err, context.DeadlineExceeded))
	})
	t.Run("close", func(t *testing.T) {
		is := is.New(t)
		c := newCall("closing")
		returned := submitAsync(p, c)
		mustBlock(t, returned)
		closed := make(chan error, 1)
		go func() { closed <- p.Close() }()
		await(t, returned, "Submit to see the pipeline close")
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrConnectError)) // the pipeline closed under it
		select {
		case err := <-closed:
			is.NoErr(err)
		case <-time.After(guard):
			t.Fatal("Close hung")
		}
		res, err := first.Result() // the held call was finished by its stage
		is.NoErr(err)
		is.Equal(res, "done")
	})
	is.Equal(len(got), 0) // none of the blocked calls reached the sink
}

func TestPipelineSubmitAfterClose(t *testing.T) {
	is := is.New(t)
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", echo(), 1)})
	c := newCall("before")
	p.Submit(c)
	_, err := wait(t, c)
	is.NoErr(err)
	is.NoErr(p.Close())
	is.NoErr(p.Close()) // twice is safe
	is.True(p.Closing())

	c = newCall("after")
	p.Submit(c)
	is.True(c.IsDone()) // at once
	_, err = c.Result()
	is.True(errors.Is(err, pipeline.ErrConnectError))
}

func TestPipelineCloseBeforeStart(t *testing.T) {
	is := is.New(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var hooks atomic.Int32
	started := atomic.Bool{}
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		started.Store(true)
		for c := range in {
			c.Complete(nil, nil)
		}
		return nil
	}), 1)}, pipeline.OnClose(func() { hooks.Add(1) }))
	is.True(!p.Closing())
	is.NoErr(p.Close())
	is.NoErr(p.Close())
	is.Equal(hooks.Load(), int32(1)) // hooks run once, also without Start

	c := newCall("late")
	p.Submit(c) // must not start workers on a closed pipeline
	_, err := c.Result()
	is.True(errors.Is(err, pipeline.ErrConnectError))
	is.True(!started.Load())
}

// TestPipelineCloseJoins: when Close returns, every worker of every stage
// has returned and the hooks have run after them; no goroutine is left.
func TestPipelineCloseJoins(t *testing.T) {
	is := is.New(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var returned atomic.Int32
	slowExit := func(s pipeline.Stage) pipeline.Stage {
		return pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
			err := s.Run(ctx, in, out)
			time.Sleep(5 * time.Millisecond) // widen the window for a Close that does not join
			returned.Add(1)
			return err
		})
	}
	const workers = 3 + 2 + 4
	var order []string
	var atHook []int32
	p := pipeline.New([]pipeline.Step{
		pipeline.S("a", slowExit(pass()), 3),
		pipeline.T("t", func(*pipeline.Call) error { return nil }),
		pipeline.S("b", slowExit(pass()), 2),
		pipeline.S("sink", slowExit(echo()), 4),
	},
		pipeline.OnClose(func() { order = append(order, "first"); atHook = append(atHook, returned.Load()) }),
		pipeline.OnClose(func() { order = append(order, "second") }),
	)
	var calls []*pipeline.Call
	for i := range 200 {
		c := newCall(fmt.Sprint(i))
		calls = append(calls, c)
		p.Submit(c)
	}
	is.NoErr(p.Close())
	is.Equal(returned.Load(), int32(workers))    // all workers joined
	is.Equal(order, []string{"first", "second"}) // hooks ran once, in order
	is.Equal(atHook, []int32{workers})           // after the workers
	for _, c := range calls {
		is.True(c.IsDone()) // every call completed
	}
	is.NoErr(p.Close())
	is.Equal(len(order), 2)
}

func TestPipelineFailover(t *testing.T) {
	lost := pipeline.NewError(pipeline.CommError, "lost")
	build := func(take bool) (*pipeline.Pipeline, <-chan *pipeline.Call, *atomic.Int32) {
		var p *pipeline.Pipeline
		taken := make(chan *pipeline.Call, 8)
		var leading atomic.Int32
		p = pipeline.New([]pipeline.Step{
			pipeline.T("count", func(*pipeline.Call) error { leading.Add(1); return nil }),
			pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
				for c := range in {
					if c.Attempt == 0 {
						p.Fail(c, lost)
						continue
					}
					c.Complete(fmt.Sprint("attempt ", c.Attempt), nil)
				}
				return nil
			}), 1),
		}, pipeline.WithFailover(func(c *pipeline.Call, err error) bool {
			if err != lost || !take {
				return false
			}
			taken <- c
			return true
		}))
		return p, taken, &leading
	}

	t.Run("taken and resubmitted", func(t *testing.T) {
		is := is.New(t)
		p, taken, leading := build(true)
		defer closeP(t, p)
		c := newCall("f")
		p.Submit(c)
		var tc *pipeline.Call
		select {
		case tc = <-taken:
		case <-time.After(guard):
			t.Fatal("failover never got the call")
		}
		is.True(tc == c)
		is.True(!c.IsDone()) // the failover owns it now
		c.Attempt++
		p.Resubmit(c, lost)
		res, err := wait(t, c)
		is.NoErr(err)
		is.Equal(res, "attempt 1")
		is.Equal(leading.Load(), int32(2)) // Resubmit re-ran the leading transforms
	})
	t.Run("declined", func(t *testing.T) {
		is := is.New(t)
		p, _, _ := build(false)
		defer closeP(t, p)
		c := newCall("f")
		p.Submit(c)
		_, err := wait(t, c)
		is.True(err == lost)
	})
	t.Run("not consulted once closing", func(t *testing.T) {
		is := is.New(t)
		p, taken, _ := build(true)
		is.NoErr(p.Close())
		c := newCall("f")
		p.Fail(c, lost)
		is.Equal(len(taken), 0)
		is.True(c.IsDone())
		_, err := c.Result()
		is.True(err == lost)

		c = newCall("g")
		c.Attempt = 1
		p.Resubmit(c, lost) // after Close: completes with the given error
		is.True(c.IsDone())
		_, err = c.Result()
		is.True(err == lost)
	})
}

func TestPipelineResubmitFull(t *testing.T) {
	is := is.New(t)
	got := make(chan *pipeline.Call, 8)
	release := make(chan struct{})
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", gatedSink(got, release), 1)}, pipeline.WithBuffer(1))
	held := newCall("held")
	p.Submit(held)
	is.True(await(t, got, "the sink") == held) // the sink holds one
	queued := newCall("queued")
	p.Submit(queued) // fills the one-slot buffer

	want := pipeline.NewError(pipeline.ConnectError, "retry lane: pipeline full")
	c := newCall("resubmitted")
	c.Attempt = 1
	resubmitted := make(chan struct{})
	go func() {
		defer close(resubmitted)
		p.Resubmit(c, want)
	}()
	await(t, resubmitted, "Resubmit, which must never block")
	is.True(c.IsDone())
	_, err := c.Result()
	is.True(err == want) // completed with the error it was given

	close(release)
	for _, c := range []*pipeline.Call{held, queued} {
		res, err := wait(t, c)
		is.NoErr(err)
		is.Equal(res, "done")
	}
	closeP(t, p)
}

func TestPipelineResubmitTransformError(t *testing.T) {
	is := is.New(t)
	bad := pipeline.NewError(pipeline.InvokerError, "cannot encode")
	p := pipeline.New([]pipeline.Step{
		pipeline.T("enc", func(c *pipeline.Call) error {
			if c.Attempt > 0 {
				return bad
			}
			return nil
		}),
		pipeline.S("sink", echo(), 1),
	})
	defer closeP(t, p)
	c := newCall("f")
	c.Attempt = 1
	p.Resubmit(c, pipeline.NewError(pipeline.CommError, "lost"))
	_, err := wait(t, c)
	is.True(err == bad) // the transform's error, not the retry error
}

func TestPipelineLeadingTransformPanic(t *testing.T) {
	is := is.New(t)
	p := pipeline.New([]pipeline.Step{
		pipeline.T("boom", func(c *pipeline.Call) error {
			if c.Req.F == "boom" {
				panic("kaboom")
			}
			return nil
		}),
		pipeline.S("sink", echo(), 1),
	})
	defer closeP(t, p)

	c := newCall("boom")
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		p.Submit(c)
	}()
	is.Equal(recovered, "kaboom") // re-panicked in the caller, not swallowed
	is.True(c.IsDone())           // but the call got its completion first
	_, err := c.Result()
	is.True(errors.Is(err, pipeline.ErrInvokerError))
	is.True(strings.Contains(err.Error(), "kaboom"))

	ok := newCall("ok") // the pipeline still works
	p.Submit(ok)
	res, err := wait(t, ok)
	is.NoErr(err)
	is.Equal(res, "ok")
}

// TestPipelineWorkerPanic: a transform or stage panicking inside a worker
// does not lose calls: a panicking transform completes its call with
// InvokerError, every call still reaching the dead worker completes with
// InvokerError too (more of them than the buffers hold, so nothing upstream
// blocks), and the panic is not swallowed: Close re-panics, as conc does.
func TestPipelineWorkerPanic(t *testing.T) {
	boom := func(c *pipeline.Call) {
		if c.Req.F == "boom" {
			panic("kaboom")
		}
	}
	for _, tc := range []struct {
		name      string
		steps     []pipeline.Step
		completes bool // the panicking call itself completes
	}{
		{"fused transform", []pipeline.Step{
			pipeline.S("pass", pass(), 1),
			pipeline.T("boom", func(c *pipeline.Call) error { boom(c); return nil }),
			pipeline.S("sink", echo(), 1),
		}, true},
		{"stage", []pipeline.Step{
			pipeline.S("sink", pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
				for c := range in {
					boom(c)
					c.Complete(c.Req.F, nil)
				}
				return nil
			}), 1),
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			p := pipeline.New(tc.steps, pipeline.WithBuffer(4))
			c := newCall("boom")
			p.Submit(c)
			if tc.completes {
				_, err := wait(t, c)
				is.True(errors.Is(err, pipeline.ErrInvokerError))
				is.True(strings.Contains(err.Error(), "kaboom"))
			}
			var later []*pipeline.Call
			for i := range 50 {
				l := newCall(fmt.Sprint("later", i))
				later = append(later, l)
				p.Submit(l)
			}
			for _, l := range later {
				_, err := wait(t, l)
				is.True(errors.Is(err, pipeline.ErrInvokerError)) // failed, not lost
			}

			closed := make(chan any, 1)
			go func() {
				defer func() { closed <- recover() }()
				_ = p.Close()
			}()
			select {
			case r := <-closed:
				is.True(r != nil) // the worker's panic surfaces at Close
				is.True(strings.Contains(fmt.Sprint(r), "kaboom"))
			case <-time.After(guard):
				t.Fatal("Close hung after a worker panicked")
			}
		})
	}
}
