package ccm

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// Unlimited, as a queue size of [NewMutex], [NewThrottle] or
// [LimiterOptions], lets any number of flows wait (FTN12's null).
const Unlimited = -1

// waiter is a flow queued for a primitive; ext completes its entering step.
type waiter struct {
	flow    *AsyncSteps
	ext     *External
	args    []any
	granted bool
}

// enqueue parks the running entering step of as behind q, or fails it with
// DefenseRejected when q already holds maxQueue waiters (maxQueue < 0: no
// cap). what names the primitive in the error. The caller holds the lock
// that guards q and passes its unlock, so the step unwinds unlocked.
func enqueue(as *AsyncSteps, q *[]*waiter, maxQueue int, args []any, unlock func(), what string) *waiter {
	if maxQueue >= 0 && len(*q) >= maxQueue {
		unlock()
		as.Error(pipeline.DefenseRejected, what+" queue is full")
	}
	w := &waiter{flow: as, ext: as.WaitExternal(), args: args}
	*q = append(*q, w)
	unlock()
	return w
}

// remove takes w out of q; it reports false when w is not there.
func remove(q *[]*waiter, w *waiter) bool {
	for i, o := range *q {
		if o == w {
			*q = slices.Delete(*q, i, i+1)
			return true
		}
	}
	return false
}

// Mutex lets at most max flows of any programs run inside its critical
// sections at once (FTN12 Mutex); the others wait in FIFO order, at most
// maxQueue of them. It is re-entrant per flow: a flow already inside may
// enter again without waiting. Parallel branches are separate flows and
// do not inherit their parent's entry. A Mutex is safe for concurrent use
// by any number of programs; its zero value is not usable.
type Mutex struct {
	mu       sync.Mutex
	max      int
	maxQueue int
	held     int
	owners   map[*AsyncSteps]int
	waiters  []*waiter
}

// NewMutex returns a mutex admitting n flows (at least 1) with at most
// maxQueue waiting (0: none may wait; [Unlimited]: no cap).
func NewMutex(n, maxQueue int) *Mutex {
	return &Mutex{max: max(n, 1), maxQueue: maxQueue, owners: map[*AsyncSteps]int{}}
}

// Sync implements [Syncer]: it adds one step that enters the section,
// runs step inside it and leaves it when step and its sub-steps complete,
// fail or are cancelled, at whatever point the cancel lands (a flow still
// waiting is taken out of the queue).
func (m *Mutex) Sync(as *AsyncSteps, step Step, onError ErrorHandler) {
	m.guard(as, func(as *AsyncSteps, args []any) {
		as.Add(func(as *AsyncSteps, _ ...any) { step(as, args...) }, onError)
	})
}

// entry is one flow's passage through a Mutex section: queued (w set),
// inside (held, or w granted), or neither. Guarded by the Mutex's mu.
type entry struct {
	w    *waiter
	held bool
}

// guard adds one step that owns the whole section: its cancel handler,
// installed before the entry is attempted, leaves the section if the flow
// is inside or dequeues it if it waits, whenever the flow is cancelled or
// fails. Its sub-steps enter, run what inner adds with args (the
// arguments of the Sync step), and leave, passing inner's results on.
func (m *Mutex) guard(as *AsyncSteps, inner func(as *AsyncSteps, args []any)) {
	as.Add(func(as *AsyncSteps, args ...any) {
		e := &entry{}
		as.SetCancel(func(as *AsyncSteps) { m.exit(as, e) })
		as.Add(func(as *AsyncSteps, _ ...any) { m.enter(as, e) }, nil)
		as.Add(func(as *AsyncSteps, _ ...any) { inner(as, args) }, nil)
		as.Add(func(as *AsyncSteps, res ...any) {
			m.exit(as, e)
			as.Success(res...)
		}, nil)
	}, nil)
}

// enter is the entering step: it gets in at once or queues the flow (or
// fails with DefenseRejected when the queue is full).
func (m *Mutex) enter(as *AsyncSteps, e *entry) {
	m.mu.Lock()
	if m.owners[as] > 0 || m.held < m.max {
		m.enterLocked(as)
		e.held = true
		m.mu.Unlock()
		return
	}
	e.w = enqueue(as, &m.waiters, m.maxQueue, nil, m.mu.Unlock, "mutex")
}

// exit ends e: it leaves the section if the flow got in, or takes the
// flow out of the queue. A second exit does nothing.
func (m *Mutex) exit(as *AsyncSteps, e *entry) {
	m.mu.Lock()
	held := e.held
	if w := e.w; w != nil {
		e.w = nil
		if !remove(&m.waiters, w) && w.granted {
			held = true
		}
	}
	e.held = false
	m.mu.Unlock()
	if held {
		m.leave(as)
	}
}

func (m *Mutex) enterLocked(as *AsyncSteps) {
	if m.owners[as] == 0 {
		m.held++
	}
	m.owners[as]++
}

// leave ends one entry of flow as and admits the next waiter.
func (m *Mutex) leave(as *AsyncSteps) {
	m.mu.Lock()
	m.owners[as]--
	if m.owners[as] > 0 {
		m.mu.Unlock()
		return
	}
	delete(m.owners, as)
	m.held--
	var next *waiter
	for len(m.waiters) > 0 && m.held < m.max {
		next = m.waiters[0]
		m.waiters = m.waiters[1:]
		next.granted = true
		m.enterLocked(next.flow)
		break
	}
	m.mu.Unlock()
	if next != nil {
		next.ext.Success(next.args...)
	}
}

// Throttle lets at most max flows enter per period (FTN12 Throttle): a
// fixed window, as in the JS reference; excess flows wait in FIFO order
// for the next window, at most maxQueue of them. Nothing is held once
// inside. It is safe for concurrent use; its zero value is not usable.
type Throttle struct {
	mu       sync.Mutex
	max      int
	period   time.Duration
	maxQueue int
	count    int
	end      time.Time // end of the current window
	timer    *time.Timer
	waiters  []*waiter
}

// NewThrottle returns a throttle of n (at least 1) entries per period
// (default 1 s) with at most maxQueue waiting (0: none; [Unlimited]: no
// cap).
func NewThrottle(n int, period time.Duration, maxQueue int) *Throttle {
	if period <= 0 {
		period = time.Second
	}
	return &Throttle{max: max(n, 1), period: period, maxQueue: maxQueue}
}

// Sync implements [Syncer]: an entering step that waits for room in the
// window, then step.
func (t *Throttle) Sync(as *AsyncSteps, step Step, onError ErrorHandler) {
	t.gate(as)
	as.Add(step, onError)
}

func (t *Throttle) gate(as *AsyncSteps) {
	as.Add(func(as *AsyncSteps, args ...any) {
		t.mu.Lock()
		now := time.Now()
		if !now.Before(t.end) {
			t.count, t.end = 0, now.Add(t.period)
		}
		if t.count < t.max && len(t.waiters) == 0 {
			t.count++
			t.mu.Unlock()
			as.Success(args...)
			return
		}
		if t.timer == nil {
			t.timer = time.AfterFunc(t.end.Sub(now), t.tick)
		}
		w := enqueue(as, &t.waiters, t.maxQueue, args, t.mu.Unlock, "throttle")
		as.SetCancel(func(*AsyncSteps) {
			t.mu.Lock()
			remove(&t.waiters, w)
			t.mu.Unlock()
		})
	}, nil)
}

// tick opens a new window and admits up to max waiters.
func (t *Throttle) tick() {
	t.mu.Lock()
	t.count, t.end = 0, time.Now().Add(t.period)
	n := min(t.max, len(t.waiters))
	admit := slices.Clone(t.waiters[:n])
	t.waiters = t.waiters[n:]
	t.count = n
	t.timer = nil
	if len(t.waiters) > 0 {
		t.timer = time.AfterFunc(t.period, t.tick)
	}
	t.mu.Unlock()
	for _, w := range admit {
		w.ext.Success(w.args...)
	}
}

// LimiterOptions configure a [Limiter]; zero fields take FTN12's defaults.
type LimiterOptions struct {
	Concurrent int           // flows inside at once; default 1
	MaxQueue   int           // flows waiting for a concurrency slot; default 0, Unlimited for no cap
	Rate       int           // entries per Period; default 1
	Period     time.Duration // default 1 s
	Burst      int           // flows waiting for the rate; default 0, Unlimited for no cap
}

// Limiter combines a concurrency limit and a rate limit (FTN12 Limiter):
// a [Mutex] of Concurrent with MaxQueue waiters around a [Throttle] of
// Rate per Period with Burst waiters, as in the JS reference. It is safe
// for concurrent use.
type Limiter struct {
	m *Mutex
	t *Throttle
}

// NewLimiter returns a limiter configured by o.
func NewLimiter(o LimiterOptions) *Limiter {
	return &Limiter{m: NewMutex(o.Concurrent, o.MaxQueue), t: NewThrottle(o.Rate, o.Period, o.Burst)}
}

// Sync implements [Syncer].
func (l *Limiter) Sync(as *AsyncSteps, step Step, onError ErrorHandler) {
	l.m.guard(as, func(as *AsyncSteps, args []any) {
		l.t.gate(as)
		as.Add(func(as *AsyncSteps, _ ...any) { step(as, args...) }, onError)
	})
}

// entries lists the keys and values of a slice, array or map for ForEach;
// map keys are sorted by compareKeys.
func entries(coll any) (keys, vals []any, err *Error) {
	v := reflect.ValueOf(coll)
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		n := v.Len()
		keys, vals = make([]any, n), make([]any, n)
		for i := range n {
			keys[i], vals[i] = i, v.Index(i).Interface()
		}
		return keys, vals, nil
	case reflect.Map:
		// MapRange, not MapKeys and MapIndex: a NaN key cannot be looked up.
		type kv struct{ k, v reflect.Value }
		es := make([]kv, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			es = append(es, kv{it.Key(), it.Value()})
		}
		slices.SortFunc(es, func(a, b kv) int { return compareKeys(a.k, b.k) })
		keys, vals = make([]any, len(es)), make([]any, len(es))
		for i, e := range es {
			keys[i], vals[i] = e.k.Interface(), e.v.Interface()
		}
		return keys, vals, nil
	}
	return nil, nil, pipeline.Errorf(pipeline.InvokerError, "ForEach needs a slice, an array or a map, not %T", coll)
}

// keyClass ranks map keys for compareKeys: numbers, strings, the rest.
func keyClass(v reflect.Value) int {
	switch {
	case v.CanInt(), v.CanUint(), v.CanFloat():
		return 0
	case v.Kind() == reflect.String:
		return 1
	}
	return 2
}

// compareKeys is a total order on map keys (of any one map, including
// map[any]...): numbers by value, then strings, then the rest by their fmt
// form.
func compareKeys(a, b reflect.Value) int {
	for a.Kind() == reflect.Interface && !a.IsNil() {
		a = a.Elem()
	}
	for b.Kind() == reflect.Interface && !b.IsNil() {
		b = b.Elem()
	}
	ca, cb := keyClass(a), keyClass(b)
	if ca != cb {
		return cmp.Compare(ca, cb)
	}
	switch {
	case a.CanInt() && b.CanInt():
		return cmp.Compare(a.Int(), b.Int())
	case a.CanUint() && b.CanUint():
		return cmp.Compare(a.Uint(), b.Uint())
	case ca == 0:
		if c := cmp.Compare(number(a), number(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind(), b.Kind()) // 3 and 3.0

	case ca == 1:
		return cmp.Compare(a.String(), b.String())
	}
	return cmp.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
}

// number is a numeric key as a float64, to compare keys of mixed kinds.
func number(v reflect.Value) float64 {
	switch {
	case v.CanInt():
		return float64(v.Int())
	case v.CanUint():
		return float64(v.Uint())
	}
	return v.Float()
}
