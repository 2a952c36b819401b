package stage

import (
	"sync"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// Limits configures a limit [Zone] (FTN7 limit zones, FTN12 Limiter). The
// zero value limits nothing: no concurrency cap, no rate; a negative field
// is invalid.
type Limits struct {
	// Concurrent is the number of calls a zone lets in at once; a call holds
	// its place from admission until it completes, retries included.
	// 0: no cap.
	Concurrent int
	// MaxQueue is the number of calls that may wait for a concurrency
	// place; one more is rejected at once with DefenseRejected. 0: none
	// waits (a call that finds no place is rejected).
	MaxQueue int
	// Rate is the number of calls admitted per Period. 0: no rate limit
	// (nor is there one when Period/Rate is under a nanosecond).
	Rate int
	// Period is the window Rate applies to. 0: one second.
	Period time.Duration
	// Burst is the number of calls, each already holding a concurrency
	// place, that may wait for the rate; one more is rejected with
	// DefenseRejected. 0 is the spec's null: they queue up to MaxQueue (and
	// never more than Concurrent, since each holds a place).
	Burst int
}

// DefaultLimits are the default zone's limits, the values INVOKER.md §6
// recommends: 8 calls at once, 32 waiting, 10 per second.
var DefaultLimits = Limits{Concurrent: 8, MaxQueue: 32, Rate: 10, Period: time.Second}

// Validate reports a negative field as an InvokerError.
func (l Limits) Validate() error {
	if l.Concurrent < 0 || l.MaxQueue < 0 || l.Rate < 0 || l.Period < 0 || l.Burst < 0 {
		return pipeline.Errorf(pipeline.InvokerError, "invalid limits %+v: no field may be negative", l)
	}
	return nil
}

// Clock is the time source of a [Zone]: the real one by default, a fake one
// in tests. AfterFunc runs f in its own goroutine after d, as
// time.AfterFunc does.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer started by [Clock.AfterFunc]; *time.Timer is one.
type Timer interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Zone is a limit zone: a limiter shared by the pipelines of every endpoint
// that names it. It is the throttle step of those pipelines (a
// [pipeline.Gate], placed after await and before mux). A call passes two
// checks in turn, as an FTN12 Limiter does (a Mutex outside a Throttle):
//
//  1. Concurrency: it takes a place if one is free and nobody waits for
//     one, else it waits in a FIFO queue of at most MaxQueue calls (full:
//     DefenseRejected at once). It holds the place until it completes.
//  2. Rate: holding its place, it takes a token if one is free and nobody
//     waits for one, else it waits in a FIFO queue of at most Burst calls
//     (0: MaxQueue; full: DefenseRejected, and the place is given back).
//
// Tokens follow a token bucket of Rate tokens refilled evenly over Period
// (kept as one "theoretical arrival time", GCRA): after an idle Period,
// Rate calls pass at once, then one every Period/Rate. Over any Period at
// most 2×Rate calls pass (a full bucket plus its refill), on average Rate.
// Calls waiting for the rate are released one by one on a single timer.
//
// A call that must wait is parked: Enter returns and no goroutine waits for
// it. It is resumed into the rest of its pipeline when its turn comes
// ([pipeline.Resume.Continue], which never blocks the goroutine that
// releases a place, such as a connection's reader completing another
// call). A call whose deadline would pass before its estimated turn fails
// at once with Timeout; the estimate counts only the rate and the calls
// queued ahead, so it errs early, never late. A parked call that completes
// meanwhile (its deadline, a cancelled context: stage.Await) leaves its
// queue at once and gives its place back; a pipeline that closes fails its
// parked calls with ConnectError ([Zone.Drop]).
//
// Retries: a retried call (Attempt > 0) keeps the place its first attempt
// holds, so it never waits for concurrency and cannot deadlock a zone of
// one place; it does take a token again, since every attempt is a request
// the peer sees (the spec wraps each call in the limiter; the reference
// holds the limiter across its retry loop). It may wait for the rate like
// any call, and is rejected with DefenseRejected when that queue is full.
//
// The deadline covers time spent waiting in the zone (the reference starts
// the call timeout only once the limiter admits the call).
//
// Cost on the fast path (a free place and token): one mutex round trip,
// a clock read when the zone has a rate, one [pipeline.Call.AddCleanup],
// and no allocation; releasing the place on completion is a second mutex
// round trip. A parked call costs one small allocation and a map entry.
// See BenchmarkZoneAdmit.
//
// A Zone is safe for concurrent use and outlives the pipelines that use it.
type Zone struct {
	clock Clock
	base  time.Time // the zero of the durations below

	mu       sync.Mutex
	limits   Limits
	interval time.Duration // Period/Rate; 0: no rate limit
	tau      time.Duration // Period - interval: the bucket's depth
	tat      time.Duration // theoretical arrival time of the next token
	used     int           // places held: calls admitted and not completed
	slotQ    waitList      // waiting for a place
	rateQ    waitList      // holding a place, waiting for a token
	parked   map[*pipeline.Call]*waiter
	timer    Timer
	timerGen uint64
}

// waiter is a parked call. It stays in Zone.parked until the call's
// cleanup runs; list is nil once it left its queue (admitted entries leave
// parked at once, rejected or dropped ones wait there for their cleanup).
type waiter struct {
	prev, next *waiter
	list       *waitList
	c          *pipeline.Call
	r          pipeline.Resume
	holdsSlot  bool // the cleanup must give a place back
}

// NewZone returns a zone with limits l, timed by clk (nil: the real
// clock). Invalid limits are an InvokerError.
func NewZone(l Limits, clk Clock) (*Zone, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = realClock{}
	}
	z := &Zone{clock: clk, base: clk.Now(), parked: make(map[*pipeline.Call]*waiter)}
	z.setLimits(l)
	return z, nil
}

func (z *Zone) setLimits(l Limits) {
	if l.Period == 0 {
		l.Period = time.Second
	}
	z.limits = l
	z.interval, z.tau = 0, 0
	if l.Rate > 0 {
		z.interval = l.Period / time.Duration(l.Rate)
		z.tau = l.Period - z.interval
	}
}

// SetLimits replaces the zone's limits. Calls admitted keep their places;
// calls waiting keep their places in the queues, even beyond a smaller
// MaxQueue or Burst, and are admitted as the new limits allow. Invalid
// limits are an InvokerError and change nothing.
func (z *Zone) SetLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var out handoff
	z.mu.Lock()
	z.setLimits(l)
	z.stopTimer()
	z.pump(&out)
	z.mu.Unlock()
	out.run()
	return nil
}

// Limits returns the zone's limits (Period filled in).
func (z *Zone) Limits() Limits {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.limits
}

// Waiting returns the number of calls parked in the zone's queues.
func (z *Zone) Waiting() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.slotQ.n + z.rateQ.n
}

// InFlight returns the number of places held: calls admitted (or waiting
// for a token) that have not completed.
func (z *Zone) InFlight() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.used
}

func (z *Zone) now() time.Duration { return z.clock.Now().Sub(z.base) }

func (z *Zone) slotFree() bool {
	return z.slotQ.n == 0 && (z.limits.Concurrent == 0 || z.used < z.limits.Concurrent)
}

func (z *Zone) tokenFree(now time.Duration) bool {
	return z.interval == 0 || (z.rateQ.n == 0 && z.tat-z.tau <= now)
}

func (z *Zone) takeToken(now time.Duration) {
	if z.interval == 0 {
		return
	}
	z.tat = max(z.tat, now) + z.interval
}

// turn estimates when the call k places behind the head of the rate queue
// gets its token.
func (z *Zone) turn(now time.Duration, k int) time.Duration {
	if z.interval == 0 {
		return now
	}
	return max(now, max(z.tat, now)+time.Duration(k)*z.interval-z.tau)
}

func (z *Zone) burstCap() int {
	if z.limits.Burst > 0 {
		return z.limits.Burst
	}
	return z.limits.MaxQueue
}

// Enter is the throttle step ([pipeline.Gate]): it admits c (true), parks
// it, or completes it with DefenseRejected or Timeout (false).
func (z *Zone) Enter(c *pipeline.Call, r pipeline.Resume) bool {
	retry := c.Attempt > 0
	z.mu.Lock()
	if !retry {
		if !z.slotFree() {
			return z.parkForSlot(c, r)
		}
		z.used++
	}
	var now time.Duration
	if z.interval > 0 {
		now = z.now()
		if !z.tokenFree(now) {
			return z.parkForRate(c, r, now, retry)
		}
		z.takeToken(now)
	}
	z.mu.Unlock()
	if !retry {
		c.AddCleanup(z) // outside the lock: on a completed call it runs at once
	}
	return true
}

// parkForSlot parks c until a place is free; z.mu is held and released.
func (z *Zone) parkForSlot(c *pipeline.Call, r pipeline.Resume) bool {
	if z.slotQ.n >= z.limits.MaxQueue {
		z.mu.Unlock()
		c.Complete(nil, pipeline.Errorf(pipeline.DefenseRejected, "limit zone: no place free and the queue of %d is full", z.limits.MaxQueue))
		return false
	}
	if z.interval > 0 && !c.Deadline.IsZero() {
		now := z.now()
		if err := z.late(c, now, z.turn(now, z.rateQ.n+z.slotQ.n)); err != nil {
			z.mu.Unlock()
			c.Complete(nil, err)
			return false
		}
	}
	w := &waiter{c: c, r: r}
	z.slotQ.push(w)
	z.parked[c] = w
	z.mu.Unlock()
	c.AddCleanup(z)
	return false
}

// parkForRate parks c, which holds a place, until a token is free; z.mu is
// held and released. A first attempt that cannot park gives back the place
// it just took; a retry's place goes back when it completes.
func (z *Zone) parkForRate(c *pipeline.Call, r pipeline.Resume, now time.Duration, retry bool) bool {
	var err error
	if z.rateQ.n >= z.burstCap() {
		err = pipeline.Errorf(pipeline.DefenseRejected, "limit zone: %d calls already wait for the rate", z.rateQ.n)
	} else {
		err = z.late(c, now, z.turn(now, z.rateQ.n))
	}
	if err != nil {
		var out handoff
		if !retry {
			z.used--
			z.pump(&out)
		}
		z.mu.Unlock()
		out.run()
		c.Complete(nil, err)
		return false
	}
	w := &waiter{c: c, r: r, holdsSlot: true}
	z.rateQ.push(w)
	z.parked[c] = w
	z.armTimer(now)
	z.mu.Unlock()
	if !retry {
		c.AddCleanup(z)
	}
	return false
}

// late returns a Timeout error when the turn comes after c's deadline.
func (z *Zone) late(c *pipeline.Call, now, turn time.Duration) error {
	if c.Deadline.IsZero() || !z.base.Add(turn).After(c.Deadline) {
		return nil
	}
	return pipeline.Errorf(pipeline.Timeout, "limit zone: the call's turn (in %v) comes after its deadline", (turn - now).Round(time.Millisecond))
}

// Cleanup runs once when a call that entered the zone completes: it takes
// the call out of its queue if it still waits, gives its place back if it
// holds one, and admits whoever that lets in.
func (z *Zone) Cleanup(c *pipeline.Call) {
	var out handoff
	z.mu.Lock()
	holds := true
	if len(z.parked) > 0 {
		if w, ok := z.parked[c]; ok {
			delete(z.parked, c)
			if w.list != nil {
				w.list.remove(w)
				if z.rateQ.n == 0 {
					z.stopTimer()
				}
			}
			holds = w.holdsSlot
		}
	}
	if holds {
		z.used--
		z.pump(&out)
	}
	z.mu.Unlock()
	out.run()
}

// Drop takes every call parked for pipeline p out of the queues and returns
// them for p to complete ([pipeline.Gate]); their places go back when they
// complete.
func (z *Zone) Drop(p *pipeline.Pipeline) []*pipeline.Call {
	var out []*pipeline.Call
	z.mu.Lock()
	for c, w := range z.parked {
		if w.list != nil && w.r.Pipeline() == p {
			w.list.remove(w)
			out = append(out, c)
		}
	}
	if z.rateQ.n == 0 {
		z.stopTimer()
	}
	z.mu.Unlock()
	return out
}

// handoff collects what a pump decided, to be acted on outside the lock:
// Continue and Complete run cleanups, which take the lock.
type handoff struct {
	resume []*waiter
	reject []*pipeline.Call
}

func (h *handoff) run() {
	for _, w := range h.resume {
		w.r.Continue(w.c)
	}
	for _, c := range h.reject {
		c.Complete(nil, pipeline.NewError(pipeline.DefenseRejected, "limit zone: too many calls wait for the rate"))
	}
}

// pump admits what the limits allow: rate waiters whose token is due, then
// place waiters; it re-arms the timer for the next token. z.mu is held.
func (z *Zone) pump(out *handoff) {
	if z.slotQ.n == 0 && z.rateQ.n == 0 {
		return
	}
	now := z.now()
	for z.rateQ.n > 0 && (z.interval == 0 || z.tat-z.tau <= now) {
		w := z.rateQ.pop()
		z.takeToken(now)
		delete(z.parked, w.c)
		out.resume = append(out.resume, w)
	}
	for z.slotQ.n > 0 && (z.limits.Concurrent == 0 || z.used < z.limits.Concurrent) {
		w := z.slotQ.pop()
		if z.tokenFree(now) {
			z.used++
			z.takeToken(now)
			delete(z.parked, w.c)
			out.resume = append(out.resume, w)
			continue
		}
		if z.rateQ.n >= z.burstCap() {
			// Stays in parked, holding nothing, until its cleanup.
			out.reject = append(out.reject, w.c)
			continue
		}
		z.used++
		w.holdsSlot = true
		z.rateQ.push(w)
	}
	z.armTimer(now)
}

// armTimer makes sure a timer fires when the head of the rate queue gets
// its token, or that none is armed when nobody waits. z.mu is held.
func (z *Zone) armTimer(now time.Duration) {
	if z.rateQ.n == 0 {
		z.stopTimer()
		return
	}
	if z.timer != nil {
		return
	}
	z.timerGen++
	gen := z.timerGen
	z.timer = z.clock.AfterFunc(z.turn(now, 0)-now, func() { z.fire(gen) })
}

func (z *Zone) stopTimer() {
	if z.timer != nil {
		z.timer.Stop()
		z.timer = nil
		z.timerGen++ // a timer already firing finds itself stale
	}
}

func (z *Zone) fire(gen uint64) {
	var out handoff
	z.mu.Lock()
	if gen != z.timerGen {
		z.mu.Unlock()
		return
	}
	z.timer = nil
	z.pump(&out)
	z.mu.Unlock()
	out.run()
}

// waitList is an intrusive FIFO of waiters.
type waitList struct {
	head, tail *waiter
	n          int
}

func (l *waitList) push(w *waiter) {
	w.list, w.prev, w.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waitList) pop() *waiter {
	w := l.head
	l.remove(w)
	return w
}

func (l *waitList) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next, w.list = nil, nil, nil
	l.n--
}
