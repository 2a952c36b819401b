package stage_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
)

// fakeClock is a manual clock: time moves only in Advance, which runs the
// timers that fall due in the calling goroutine, in order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk  *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stage.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock by d and fires every timer due by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// zoneRig is a pipeline await → zone → sink whose sink hands every call to
// the test, which completes it when it likes.
type zoneRig struct {
	p       *pipeline.Pipeline
	arrived chan *pipeline.Call
}

func newZoneRig(t *testing.T, z *stage.Zone) *zoneRig {
	r := &zoneRig{arrived: make(chan *pipeline.Call, 256)}
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		for c := range in {
			r.arrived <- c
		}
		return nil
	})
	r.p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(0)),
		pipeline.G("throttle", z),
		pipeline.S("sink", sink, 1),
	})
	t.Cleanup(func() {
		_ = r.p.Close()
		for {
			select {
			case c := <-r.arrived:
				c.Complete(nil, nil)
			default:
				return
			}
		}
	})
	return r
}

// submit submits n calls and returns them.
func (r *zoneRig) submit(n int) []*pipeline.Call {
	cs := make([]*pipeline.Call, n)
	for i := range cs {
		cs[i] = pipeline.NewCall(context.Background(), fn, nil)
		r.p.Submit(cs[i])
	}
	return cs
}

// next returns the next call the sink received.
func (r *zoneRig) next(t *testing.T) *pipeline.Call {
	t.Helper()
	select {
	case c := <-r.arrived:
		return c
	case <-time.After(guard):
		t.Fatal("no call reached the sink")
		return nil
	}
}

// none asserts that no call is at the sink right now. Calls reach it only
// through the resume worker after the zone let them go, so the tests check
// the zone's counters (synchronous) first and use this as a cross-check.
func (r *zoneRig) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.arrived:
		t.Fatalf("unexpected call at the sink: %v", c)
	default:
	}
}

func newZone(t *testing.T, l stage.Limits, clk stage.Clock) *stage.Zone {
	t.Helper()
	z, err := stage.NewZone(l, clk)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// eventually waits for cond, which another goroutine makes true (a
// cleanup after an asynchronous completion). A hang detector, not timing.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); runtime.Gosched() {
		if time.Since(start) > guard {
			t.Fatal("condition never held")
		}
	}
}

func TestZoneConcurrency(t *testing.T) {
	is := is.New(t)
	z := newZone(t, stage.Limits{Concurrent: 2, MaxQueue: 10}, newFakeClock())
	r := newZoneRig(t, z)
	cs := r.submit(5)
	is.Equal(z.InFlight(), 2) // two let in
	is.Equal(z.Waiting(), 3)  // three parked, none rejected
	for _, c := range cs {
		is.True(!c.IsDone())
	}
	a, b := r.next(t), r.next(t)
	is.True(a == cs[0] && b == cs[1])
	r.none(t)
	for i := 2; i < 5; i++ {
		a.Complete("ok", nil) // gives its place to the next in line (FIFO)
		a = b
		b = r.next(t)
		is.True(b == cs[i])
		is.Equal(z.InFlight(), 2)
	}
	a.Complete("ok", nil)
	b.Complete("ok", nil)
	is.Equal(z.InFlight(), 0)
	is.Equal(z.Waiting(), 0)
}

func TestZoneQueueOverflow(t *testing.T) {
	is := is.New(t)
	z := newZone(t, stage.Limits{Concurrent: 1, MaxQueue: 2}, newFakeClock())
	r := newZoneRig(t, z)
	cs := r.submit(4)
	is.True(cs[3].IsDone()) // rejected at once, when Submit returned
	_, err := cs[3].Result()
	is.Equal(pipeline.NameOf(err), pipeline.DefenseRejected)
	is.Equal(z.Waiting(), 2)
	for i := range 3 {
		c := r.next(t)
		is.True(c == cs[i])
		c.Complete(nil, nil)
	}
	is.Equal(z.InFlight(), 0)

	t.Run("no queue", func(t *testing.T) {
		is := is.New(t)
		z := newZone(t, stage.Limits{Concurrent: 1}, newFakeClock())
		r := newZoneRig(t, z)
		cs := r.submit(2)
		_, err := cs[1].Result()
		is.Equal(pipeline.NameOf(err), pipeline.DefenseRejected) // MaxQueue 0: nobody waits
		r.next(t).Complete(nil, nil)
	})
}

func TestZoneRate(t *testing.T) {
	is := is.New(t)
	clk := newFakeClock()
	z := newZone(t, stage.Limits{Rate: 2, Period: time.Second, MaxQueue: 10}, clk)
	r := newZoneRig(t, z)
	cs := r.submit(5)
	is.Equal(z.Waiting(), 3) // a full bucket lets 2 through at once
	r.next(t).Complete(nil, nil)
	r.next(t).Complete(nil, nil)
	r.none(t)
	clk.Advance(499 * time.Millisecond)
	is.Equal(z.Waiting(), 3) // not yet: one token every 500 ms
	clk.Advance(time.Millisecond)
	is.Equal(z.Waiting(), 2)
	is.True(r.next(t) == cs[2])
	clk.Advance(500 * time.Millisecond)
	is.Equal(z.Waiting(), 1)
	is.True(r.next(t) == cs[3])
	clk.Advance(500 * time.Millisecond)
	is.Equal(z.Waiting(), 0)
	is.True(r.next(t) == cs[4])
	clk.Advance(time.Second) // an idle period refills the bucket
	more := r.submit(3)      // 2 at once, the third waits
	is.Equal(z.Waiting(), 1)
	r.next(t)
	r.next(t)
	clk.Advance(500 * time.Millisecond)
	is.True(r.next(t) == more[2])
	is.Equal(z.InFlight(), 6) // 8 admitted, 2 completed: the rest hold their places
}

func TestZoneBurst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		burst    int
		rejected bool
	}{
		{"burst 2 caps the rate queue", 2, true},
		{"burst 0 queues up to MaxQueue", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			clk := newFakeClock()
			z := newZone(t, stage.Limits{Rate: 1, MaxQueue: 5, Burst: tc.burst}, clk)
			r := newZoneRig(t, z)
			cs := r.submit(4) // one passes, the others wait for the rate
			is.Equal(cs[3].IsDone(), tc.rejected)
			if tc.rejected {
				_, err := cs[3].Result()
				is.Equal(pipeline.NameOf(err), pipeline.DefenseRejected)
				is.Equal(z.Waiting(), 2)
				is.Equal(z.InFlight(), 3) // the rejected call gave its place back
			} else {
				is.Equal(z.Waiting(), 3)
			}
			r.next(t)
			clk.Advance(time.Second)
			is.True(r.next(t) == cs[1])
		})
	}
}

func TestZoneDeadlineBeforeTurn(t *testing.T) {
	is := is.New(t)
	clk := newFakeClock()
	z := newZone(t, stage.Limits{Concurrent: 1, MaxQueue: 5, Rate: 1}, clk)
	r := newZoneRig(t, z)
	first := r.submit(1)[0] // takes the place and the token
	r.next(t)

	doomed := pipeline.NewCall(context.Background(), fn, nil)
	doomed.Deadline = clk.Now().Add(500 * time.Millisecond) // next token in 1 s
	r.p.Submit(doomed)
	is.True(doomed.IsDone()) // failed at once, not after waiting
	_, err := doomed.Result()
	is.Equal(pipeline.NameOf(err), pipeline.Timeout)

	ok := pipeline.NewCall(context.Background(), fn, nil)
	ok.Deadline = clk.Now().Add(1500 * time.Millisecond)
	r.p.Submit(ok)
	is.True(!ok.IsDone()) // its turn comes in time: it waits
	is.Equal(z.Waiting(), 1)

	behind := pipeline.NewCall(context.Background(), fn, nil)
	behind.Deadline = clk.Now().Add(1500 * time.Millisecond) // its turn: 2 s
	r.p.Submit(behind)
	_, err = behind.Result()
	is.Equal(pipeline.NameOf(err), pipeline.Timeout) // counts the calls ahead

	first.Complete(nil, nil)
	clk.Advance(time.Second)
	is.True(r.next(t) == ok)
}

func TestZoneCancelGivesPlaceBack(t *testing.T) {
	t.Run("completed while parked", func(t *testing.T) {
		is := is.New(t)
		z := newZone(t, stage.Limits{Concurrent: 1, MaxQueue: 1}, newFakeClock())
		r := newZoneRig(t, z)
		cs := r.submit(3)
		_, err := cs[2].Result()
		is.Equal(pipeline.NameOf(err), pipeline.DefenseRejected) // the queue is full
		cs[1].Complete(nil, pipeline.NewError(pipeline.Timeout, "deadline"))
		is.Equal(z.Waiting(), 0) // left the queue in its cleanup
		late := r.submit(1)[0]
		is.True(!late.IsDone()) // the place in the queue was given back
		r.next(t).Complete(nil, nil)
		is.True(r.next(t) == late) // the cancelled call never reaches the sink
		late.Complete(nil, nil)
		is.Equal(z.InFlight(), 0)
	})
	t.Run("context cancelled", func(t *testing.T) {
		is := is.New(t)
		clk := newFakeClock()
		z := newZone(t, stage.Limits{Rate: 1, MaxQueue: 1}, clk)
		r := newZoneRig(t, z)
		r.submit(1)
		ctx, cancel := context.WithCancel(context.Background())
		c := pipeline.NewCall(ctx, fn, nil)
		r.p.Submit(c)
		is.Equal(z.Waiting(), 1)
		cancel() // stage.Await's context watch completes the call
		_, err := wait(t, c)
		is.Equal(pipeline.NameOf(err), pipeline.Timeout)
		is.True(errors.Is(err, context.Canceled))
		eventually(t, func() bool { return z.Waiting() == 0 })
		eventually(t, func() bool { return z.InFlight() == 1 }) // its place went back
		clk.Advance(time.Second)
		r.next(t)
		r.none(t) // the cancelled call was never sent
	})
}

func TestZoneSharedByPipelines(t *testing.T) {
	is := is.New(t)
	z := newZone(t, stage.Limits{Concurrent: 1, MaxQueue: 4}, newFakeClock())
	r1, r2 := newZoneRig(t, z), newZoneRig(t, z)
	a := r1.submit(1)[0]
	b := r2.submit(1)[0]
	is.Equal(z.Waiting(), 1) // the second endpoint waits for the first's place
	is.True(r1.next(t) == a)
	r2.none(t)
	a.Complete(nil, nil)
	is.True(r2.next(t) == b)
	b.Complete(nil, nil)
	is.Equal(z.InFlight(), 0)
}

func TestZoneCloseWithParked(t *testing.T) {
	is := is.New(t)
	clk := newFakeClock()
	z := newZone(t, stage.Limits{Concurrent: 2, MaxQueue: 8, Rate: 1}, clk)
	r1, r2 := newZoneRig(t, z), newZoneRig(t, z)
	a := r1.submit(3) // a[0] in, a[1] waits for the rate, a[2] for a place
	b := r2.submit(1)[0]
	is.Equal(z.Waiting(), 3)
	is.NoErr(r1.p.Close())
	for _, c := range a[1:] {
		_, err := wait(t, c)
		is.Equal(pipeline.NameOf(err), pipeline.ConnectError) // failed by Close, once
	}
	is.Equal(z.Waiting(), 1) // b still waits: the zone outlives r1
	r1.next(t).Complete(nil, nil)
	clk.Advance(time.Second)
	is.True(r2.next(t) == b)
	b.Complete(nil, nil)
	is.Equal(z.InFlight(), 0)
}

func TestZoneRetry(t *testing.T) {
	is := is.New(t)
	clk := newFakeClock()
	z := newZone(t, stage.Limits{Concurrent: 1, Rate: 1, MaxQueue: 1}, clk)
	r := newZoneRig(t, z)
	c := r.submit(1)[0]
	is.True(r.next(t) == c)
	// The attempt failed; the retry lane re-enters it. It keeps its place
	// (a zone of one place does not deadlock) but waits for a token.
	c.Attempt = 1
	r.p.Resubmit(c, pipeline.NewError(pipeline.CommError, "lost"))
	is.True(!c.IsDone())
	is.Equal(z.Waiting(), 1)
	is.Equal(z.InFlight(), 1)
	clk.Advance(time.Second)
	is.True(r.next(t) == c)
	c.Complete(nil, nil)
	is.Equal(z.InFlight(), 0) // one place, given back once
}

func TestZoneSetLimits(t *testing.T) {
	is := is.New(t)
	z := newZone(t, stage.Limits{Concurrent: 1, MaxQueue: 4}, newFakeClock())
	r := newZoneRig(t, z)
	cs := r.submit(3)
	is.Equal(z.Waiting(), 2)
	is.NoErr(z.SetLimits(stage.Limits{Concurrent: 3, MaxQueue: 4}))
	is.Equal(z.Waiting(), 0) // the larger limit lets the waiting calls in
	for range cs {
		r.next(t).Complete(nil, nil)
	}
	is.Equal(z.Limits(), stage.Limits{Concurrent: 3, MaxQueue: 4, Period: time.Second})
	err := z.SetLimits(stage.Limits{Rate: -1})
	is.Equal(pipeline.NameOf(err), pipeline.InvokerError)
	is.Equal(z.Limits().Concurrent, 3) // unchanged
}

func TestLimitsValidate(t *testing.T) {
	is := is.New(t)
	for _, l := range []stage.Limits{{Concurrent: -1}, {MaxQueue: -1}, {Rate: -1}, {Period: -time.Second}, {Burst: -1}} {
		_, err := stage.NewZone(l, nil)
		is.Equal(pipeline.NameOf(err), pipeline.InvokerError)
	}
	is.NoErr(stage.DefaultLimits.Validate())
	is.NoErr(stage.Limits{}.Validate()) // the zero value: no limits
}

// TestZoneExactlyOnceStress mixes admitted, parked, rejected, cancelled and
// timed-out calls on a real clock, then checks every call completed once
// and the zone is back to empty.
func TestZoneExactlyOnceStress(t *testing.T) {
	is := is.New(t)
	z := newZone(t, stage.Limits{Concurrent: 4, MaxQueue: 16, Rate: 2000, Burst: 2}, nil)
	var p *pipeline.Pipeline
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		for c := range in {
			c.Complete("ok", nil)
		}
		return nil
	})
	p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(50*time.Millisecond)),
		pipeline.G("throttle", z),
		pipeline.S("sink", sink, 2),
	})
	const workers, rounds, batch = 8, 20, 8 // up to 64 calls at once
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[pipeline.ErrorName]int{}
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				var cs [batch]*pipeline.Call
				var cancels [batch]context.CancelFunc
				for i := range cs {
					ctx, cancel := context.WithCancel(context.Background())
					cs[i], cancels[i] = pipeline.NewCall(ctx, fn, nil), cancel
					p.Submit(cs[i])
				}
				for i := range cs {
					if rng.IntN(4) == 0 {
						cancels[i]()
					}
				}
				for i, c := range cs {
					<-c.Done()
					cancels[i]()
					_, err := c.Result()
					mu.Lock()
					counts[pipeline.NameOf(err)]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	is.NoErr(p.Close())
	total := 0
	for _, n := range counts {
		total += n
	}
	is.Equal(total, workers*rounds*batch)
	eventually(t, func() bool { return z.InFlight() == 0 && z.Waiting() == 0 })
	t.Logf("outcomes: %v", counts)
}
