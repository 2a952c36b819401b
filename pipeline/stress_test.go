package pipeline_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/matryer/is"
	"go.uber.org/goleak"
)

var stressSeed = flag.Uint64("stress.seed", 0, "seed for TestStressExactlyOnce (0: random)")

// completions counts the winning completions of one call (Cleanup runs once
// per winning Complete) and of all calls.
type completions struct {
	total *atomic.Int64
	n     atomic.Int32
}

func (cc *completions) Cleanup(*pipeline.Call) {
	cc.n.Add(1)
	cc.total.Add(1)
}

// holdSet is a pending table: calls parked outside any channel, completed
// later by a responder or by an OnClose hook.
type holdSet struct {
	mu     sync.Mutex
	closed bool
	calls  []*pipeline.Call
	errs   []error
}

func (h *holdSet) put(c *pipeline.Call, err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.calls = append(h.calls, c)
	h.errs = append(h.errs, err)
	return true
}

func (h *holdSet) take(r *rand.Rand) (*pipeline.Call, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.calls) == 0 {
		return nil, nil
	}
	i := r.IntN(len(h.calls))
	c, err := h.calls[i], h.errs[i]
	last := len(h.calls) - 1
	h.calls[i], h.errs[i] = h.calls[last], h.errs[last]
	h.calls, h.errs = h.calls[:last], h.errs[:last]
	return c, err
}

// close stops intake and returns what is left.
func (h *holdSet) close() ([]*pipeline.Call, []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	c, e := h.calls, h.errs
	h.calls, h.errs = nil, nil
	return c, e
}

// watch is a minimal await: it completes the call when its context ends
// and stops watching once the call completed.
type watch struct{ stop func() bool }

func (w *watch) Cleanup(*pipeline.Call) { w.stop() }

// TestStressExactlyOnce pushes thousands of calls through a pipeline whose
// stages randomly complete, fail (through a failover that parks calls for a
// retry), park calls in a pending table, or wrongly forward them to the
// end, while callers cancel at random and Close runs concurrently. Every
// submitted call must complete exactly once.
func TestStressExactlyOnce(t *testing.T) {
	is := is.New(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	seed := *stressSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -stress.seed=%d)", seed, seed)

	const (
		submitters = 8
		perSub     = 500
	)
	var total atomic.Int64
	var pending, retries holdSet
	var workerID atomic.Uint64
	lost := pipeline.NewError(pipeline.CommError, "lost")

	var p *pipeline.Pipeline
	jitter := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		r := rand.New(rand.NewPCG(seed, workerID.Add(1)))
		for c := range in {
			if r.IntN(8) == 0 {
				time.Sleep(time.Duration(r.IntN(50)) * time.Microsecond)
			}
			out <- c
		}
		return nil
	})
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, out chan<- *pipeline.Call) error {
		r := rand.New(rand.NewPCG(seed, workerID.Add(1)))
		for c := range in {
			switch k := r.IntN(100); {
			case k < 40:
				c.Complete("ok", nil)
			case k < 60:
				p.Fail(c, lost) // the failover may park it for a retry
			case k < 95:
				if !pending.put(c, nil) {
					c.Complete(nil, lost)
				}
			case k < 97:
				out <- c // a buggy sink: the terminal drain must catch it
			default:
				c.Complete(nil, nil)
				c.Complete("again", nil) // a late completion has no effect
			}
		}
		return nil
	})
	p = pipeline.New([]pipeline.Step{
		pipeline.T("watch", func(c *pipeline.Call) error {
			if c.Attempt > 0 {
				return nil
			}
			ctx := c.Context()
			if ctx.Done() != nil {
				c.AddCleanup(&watch{stop: context.AfterFunc(ctx, func() { c.Complete(nil, ctx.Err()) })})
			}
			return nil
		}),
		pipeline.S("jitter", jitter, 3),
		pipeline.T("check", func(c *pipeline.Call) error {
			if c.Req.P["bad"] == true {
				return pipeline.NewError(pipeline.InvalidRequest, "bad")
			}
			return nil
		}),
		pipeline.S("sink", sink, 3),
	},
		pipeline.WithBuffer(8),
		pipeline.WithFailover(func(c *pipeline.Call, err error) bool {
			return c.Attempt < 3 && retries.put(c, err)
		}),
		pipeline.OnClose(func() {
			calls, _ := pending.close()
			for _, c := range calls {
				c.Complete(nil, pipeline.NewError(pipeline.CommError, "closed"))
			}
			calls, errs := retries.close()
			for i, c := range calls {
				c.Complete(nil, errs[i])
			}
		}),
	)

	// Helpers: a responder answering parked calls and a retrier
	// resubmitting failed ones, both joined before the test ends.
	stop := make(chan struct{})
	var helpers sync.WaitGroup
	helpers.Go(func() {
		r := rand.New(rand.NewPCG(seed, 1000))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, _ := pending.take(r); c != nil {
				c.Complete("answered", nil)
			} else {
				time.Sleep(10 * time.Microsecond)
			}
		}
	})
	helpers.Go(func() {
		r := rand.New(rand.NewPCG(seed, 1001))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, err := retries.take(r); c != nil {
				c.Attempt++
				p.Resubmit(c, err)
			} else {
				time.Sleep(10 * time.Microsecond)
			}
		}
	})

	closeAfter := rand.New(rand.NewPCG(seed, 2000)).IntN(submitters * perSub)
	var submitted atomic.Int64
	var closeErr error
	var closeOnce sync.Once
	closeNow := func() { closeOnce.Do(func() { closeErr = p.Close() }) }

	all := make([][]*pipeline.Call, submitters)
	counts := make([][]*completions, submitters)
	var subs sync.WaitGroup
	for s := range submitters {
		subs.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(3000+s)))
			var cancels []context.CancelFunc
			defer func() {
				for _, cancel := range cancels {
					cancel()
				}
			}()
			for i := range perSub {
				ctx := context.Background()
				switch r.IntN(10) {
				case 0:
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(2000))*time.Microsecond)
					cancels = append(cancels, cancel)
				case 1, 2:
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					cancels = append(cancels, cancel)
				}
				c := pipeline.NewCall(ctx, "a.b:1.0:f", map[string]any{"bad": r.IntN(20) == 0, "i": i})
				cc := &completions{total: &total}
				c.AddCleanup(cc)
				all[s] = append(all[s], c)
				counts[s] = append(counts[s], cc)
				p.Submit(c)
				if submitted.Add(1) == int64(closeAfter) {
					go closeNow() // Close races with the remaining submissions
				}
				if n := len(cancels); n > 0 && r.IntN(3) == 0 {
					cancels[r.IntN(n)]() // cancel a random earlier call
				}
			}
		})
	}
	subs.Wait()
	closeNow()
	close(stop)
	helpers.Wait()
	// A retrier that took a call before OnClose and resubmitted after it
	// completes that call itself (Resubmit on a closed pipeline), so by now
	// every call has had its chance.
	is.NoErr(closeErr)

	deadline := time.After(guard)
	n := 0
	for s := range all {
		for _, c := range all[s] {
			select {
			case <-c.Done():
			case <-deadline:
				t.Fatalf("call %v never completed (seed %d)", c.Req.P["i"], seed)
			}
			n++
		}
	}
	is.Equal(n, submitters*perSub)
	is.Equal(total.Load(), int64(n)) // completions == submissions
	for s := range all {
		for i, c := range all[s] {
			if got := counts[s][i].n.Load(); got != 1 {
				t.Errorf("call %d/%d completed %d times", s, i, got)
			}
			_, err := c.Result()
			if err != nil {
				switch pipeline.NameOf(err) {
				case pipeline.CommError, pipeline.ConnectError, pipeline.Timeout, pipeline.InvokerError, pipeline.InvalidRequest:
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		}
	}
}
