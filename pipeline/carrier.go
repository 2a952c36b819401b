package pipeline

import "sync/atomic"

// Carrier is one connection of a multiplexed transport as the calls see
// it: an identity that the pending table can match ("which calls did the
// lost connection carry?") and the count of calls in flight on it, which
// a transport with several connections reads to pick the least loaded
// one. The zero value is ready to use; a transport makes one per
// connection and never reuses it for the next connection.
//
// A call is on at most one carrier at a time ([Call.SetVia]); it leaves
// it exactly once, by [Call.ClearVia], when its attempt ends (response,
// completion, loss, a new attempt), so the count needs no other
// bookkeeping. All methods are safe for concurrent use; each costs one or
// two atomic operations.
type Carrier struct {
	n atomic.Int64
}

// InFlight returns how many calls are on the carrier now.
func (k *Carrier) InFlight() int64 { return k.n.Load() }

// SetVia records that the current attempt is being written on k and
// counts it there. The writer calls it before the frame goes out. When the
// call has already completed (a deadline raced with the write), the count
// is taken back at once, so a completed call never stays counted.
func (c *Call) SetVia(k *Carrier) {
	k.n.Add(1)
	if old := c.via.Swap(k); old != nil {
		old.n.Add(-1) // an attempt nobody cleared: never counted twice
	}
	// Complete sets the state before it runs the cleanups that clear the
	// carrier: either the cleanup saw k, or this check sees the state.
	if c.IsDone() && c.via.CompareAndSwap(k, nil) {
		k.n.Add(-1)
	}
}

// ClearVia takes the call off its carrier, if it is on one, and returns
// that carrier (nil otherwise). Only the first of concurrent callers gets
// it, so the count drops exactly once per attempt.
func (c *Call) ClearVia() *Carrier {
	k := c.via.Swap(nil)
	if k != nil {
		k.n.Add(-1)
	}
	return k
}

// Via returns the carrier the current attempt was written on, or nil.
func (c *Call) Via() *Carrier { return c.via.Load() }
