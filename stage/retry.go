package stage

import (
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ftnpipe/ccm/pipeline"
)

// DefaultRetryCount is the number of retries after the first attempt, the
// reference implementation's retryCount.
const DefaultRetryCount = 1

// Retry re-injects calls that failed with ConnectError or CommError, and
// only those: every other error (a peer's answer, Timeout, InvokerError)
// ends the call. Attempts are spaced by an exponential backoff with jitter
// (cenkalti/backoff: 10 ms, ×2, ±50 %, at most 1 s).
//
// Retry never blocks: a call waits on a runtime timer, not a goroutine,
// and re-enters through [pipeline.Pipeline.Resubmit], which refuses rather
// than waits when the pipeline is full. A call is not retried when its
// deadline would pass before the next attempt, when its attempts are used
// up, or when the lane of waiting retries (Lane, default 1024) is full; it
// then completes with the error it failed with.
//
// Note that a CommError means the request may have reached the peer: a
// retried call can execute twice. Set the count to 0 for calls that must
// not.
type Retry struct {
	count   int
	lane    int
	initial time.Duration

	mu      sync.Mutex
	closed  bool
	waiting map[*pipeline.Call]retryWait
}

type retryWait struct {
	timer *time.Timer
	err   error
}

// NewRetry returns a retry lane allowing count retries per call.
func NewRetry(count int) *Retry {
	return &Retry{count: count, lane: 1024, initial: 10 * time.Millisecond, waiting: make(map[*pipeline.Call]retryWait)}
}

// Take is the pipeline's failover: it reports whether it took c to retry it
// later on p.
func (r *Retry) Take(p *pipeline.Pipeline, c *pipeline.Call, err error) bool {
	switch pipeline.NameOf(err) {
	case pipeline.ConnectError, pipeline.CommError:
	default:
		return false
	}
	if c.Attempt >= r.count || c.IsDone() {
		return false
	}
	d := r.delay(c.Attempt)
	if !c.Deadline.IsZero() && time.Now().Add(d).After(c.Deadline) {
		return false
	}
	r.mu.Lock()
	if r.closed || len(r.waiting) >= r.lane {
		r.mu.Unlock()
		return false
	}
	first := c.Attempt == 0
	c.Attempt++
	r.waiting[c] = retryWait{err: err, timer: time.AfterFunc(d, func() {
		r.mu.Lock()
		delete(r.waiting, c)
		r.mu.Unlock()
		p.Resubmit(c, err)
	})}
	r.mu.Unlock()
	if first {
		// Outside the lock: on a call that completed meanwhile AddCleanup
		// runs Cleanup at once, which takes the lock. The cleanup takes the
		// call out of the lane when it completes while waiting.
		c.AddCleanup(r)
	}
	return true
}

func (r *Retry) delay(attempt int) time.Duration {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.initial),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	var d time.Duration
	for i := 0; i <= attempt; i++ {
		d = b.NextBackOff()
	}
	return d
}

// Cleanup takes a call that completed while it waited (deadline, cancel)
// out of the lane and stops its timer.
func (r *Retry) Cleanup(c *pipeline.Call) {
	r.mu.Lock()
	if w, ok := r.waiting[c]; ok {
		w.timer.Stop()
		delete(r.waiting, c)
	}
	r.mu.Unlock()
}

// Waiting returns the number of calls waiting for their next attempt.
func (r *Retry) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting)
}

// Close stops taking calls and completes every call still waiting with the
// error it failed with. It is the pipeline's OnClose hook.
func (r *Retry) Close() {
	r.mu.Lock()
	r.closed = true
	var stopped []*pipeline.Call
	var errs []error
	for c, w := range r.waiting {
		if w.timer.Stop() {
			stopped = append(stopped, c)
			errs = append(errs, w.err)
		}
		delete(r.waiting, c)
	}
	r.mu.Unlock()
	for i, c := range stopped {
		c.Complete(nil, errs[i])
	}
}
