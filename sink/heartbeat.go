package sink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/ftnpipe/ccm/pipeline"
)

// heartbeat is a connection's idle check: a runtime timer, never a
// goroutine while it waits. Every interval it looks whether anything
// arrived since its last look; after one silent interval it pings, after a
// second one (the ping unanswered) it closes the connection.
type heartbeat struct {
	every  time.Duration
	pings  *atomic.Uint64 // the endpoint's count of pings sent
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the armed or running tick

	mu      sync.Mutex // guards what follows
	t       *time.Timer
	stopped bool
	seen    uint64 // rx at the last tick
	pinged  bool   // a ping is unanswered
}

// startHeartbeat arms l's heartbeat; every <= 0 leaves it off.
func (l *link) startHeartbeat(every time.Duration, pings *atomic.Uint64) {
	if every <= 0 {
		return
	}
	hb := &l.hb
	hb.every, hb.pings = every, pings
	hb.ctx, hb.cancel = context.WithCancel(context.Background())
	hb.mu.Lock()
	hb.wg.Add(1)
	hb.t = time.AfterFunc(every, l.tick)
	hb.mu.Unlock()
}

// tick is one look at the connection.
func (l *link) tick() {
	hb := &l.hb
	defer hb.wg.Done()
	hb.mu.Lock()
	ping := false
	switch n := l.rx.Load(); {
	case n != hb.seen:
		hb.seen, hb.pinged = n, false
	case hb.pinged:
		hb.mu.Unlock()
		l.kill(pipeline.Errorf(pipeline.CommError, "connection lost: no answer to a heartbeat within %v", hb.every))
		return
	default:
		hb.pinged, ping = true, true
	}
	hb.mu.Unlock()
	if ping {
		hb.pings.Add(1)
		if l.ping == nil {
			select {
			case l.pingReq <- struct{}{}: // the worker writes it
			default:
			}
		} else {
			ctx, cancel := context.WithTimeout(hb.ctx, hb.every)
			err := l.ping(ctx)
			cancel()
			switch {
			case hb.ctx.Err() != nil:
				return // stopped while waiting
			case err != nil:
				l.kill(pipeline.Errorf(pipeline.CommError, "connection lost: no answer to a heartbeat within %v", hb.every))
				return
			}
			l.rx.Add(1) // the pong
		}
	}
	hb.mu.Lock()
	if !hb.stopped {
		hb.wg.Add(1)
		hb.t.Reset(hb.every)
	}
	hb.mu.Unlock()
}

// stopHeartbeat disarms the heartbeat and waits for a tick in progress
// (a WebSocket ping is cancelled).
func (l *link) stopHeartbeat() {
	hb := &l.hb
	if hb.cancel == nil {
		return
	}
	hb.cancel()
	hb.mu.Lock()
	hb.stopped = true
	if hb.t.Stop() {
		hb.wg.Done() // the armed tick will not run
	}
	hb.mu.Unlock()
	hb.wg.Wait()
}

// reconnectBackoff is the schedule of waits between failed dials of one
// connection: exponential from min, ×2, ±20 % jitter, capped at max
// (cenkalti/backoff; the cap applies before the jitter). Used by the
// connection's worker only.
type reconnectBackoff struct {
	b *backoff.ExponentialBackOff
}

func newReconnectBackoff(min, max time.Duration) *reconnectBackoff {
	if min <= 0 {
		min = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 5 * time.Second
	}
	if max < min {
		max = min
	}
	return &reconnectBackoff{b: backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(min),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxInterval(max),
		backoff.WithMaxElapsedTime(0),
	)}
}

// next returns the wait before the next attempt and advances.
func (r *reconnectBackoff) next() time.Duration { return r.b.NextBackOff() }

// reset starts the schedule over, after a connection that worked.
func (r *reconnectBackoff) reset() { r.b.Reset() }
