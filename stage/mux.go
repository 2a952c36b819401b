package stage

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ftnpipe/ccm/pipeline"
)

// Mux multiplexes calls over the bi-directional connections of one
// endpoint (WebSocket, TCP, UNIX; one or several per endpoint). It assigns
// each attempt a request id and keeps the pending table that matches
// responses to calls. A call's [pipeline.Carrier] says which connection
// its attempt was written on; the mux takes it off that carrier when the
// attempt ends, so the transport's per-connection load counts stay exact,
// and a lost connection fails only its own calls ([Mux.FailVia]).
//
// Rids are "C" followed by a number from an atomic counter, starting at 1
// (WIRE.md §4). The counter belongs to the endpoint, not to one socket: it
// does not restart after a reconnect, so a rid is never reused on any
// connection of the endpoint, even for a frame queued before the reconnect
// and written after it. Within each connection the numbers still increase,
// which is all the spec asks.
//
// The table is a map under a mutex held only for the map operation. An
// entry leaves it on every path: response, completion by timeout or cancel
// (Mux is the call's [pipeline.Cleanup]), transport loss, Close.
type Mux struct {
	next    atomic.Uint64
	unknown atomic.Uint64
	dec     *Decoder
	fail    func(c *pipeline.Call, err error)

	mu      sync.Mutex
	pending map[string]*pipeline.Call
}

// NewMux returns a multiplexer that finishes calls with dec. fail disposes
// of calls whose connection was lost (the pipeline's Fail, so the retry
// policy applies).
func NewMux(dec *Decoder, fail func(c *pipeline.Call, err error)) *Mux {
	return &Mux{dec: dec, fail: fail, pending: make(map[string]*pipeline.Call)}
}

// Assign is the mux transform: it gives the call a fresh rid, records it as
// pending (dropping the previous attempt's entry) and marks it unsent.
// Cost: one small string allocation and one map insert under the lock.
func (m *Mux) Assign(c *pipeline.Call) error {
	var buf [24]byte
	b := append(buf[:0], 'C')
	b = strconv.AppendUint(b, m.next.Add(1), 10)
	rid := string(b)
	old := c.Req.Rid
	c.Sent.Store(false)
	c.ClearVia()
	m.mu.Lock()
	if old != "" && m.pending[old] == c {
		delete(m.pending, old)
	}
	c.Req.Rid = rid
	m.pending[rid] = c
	m.mu.Unlock()
	if c.Attempt == 0 {
		c.AddCleanup(m)
	} else if c.IsDone() {
		// A retry that completed (deadline, cancel) while being assigned: its
		// cleanup already ran for the old rid, so take the new one out too.
		// Complete sets the state before running cleanups, so nothing is
		// missed.
		m.Cleanup(c)
	}
	return nil
}

// Cleanup removes a completed call's entry and takes it off the
// connection that carried it.
func (m *Mux) Cleanup(c *pipeline.Call) {
	c.ClearVia()
	m.mu.Lock()
	if rid := c.Req.Rid; m.pending[rid] == c {
		delete(m.pending, rid)
	}
	m.mu.Unlock()
}

// Receive handles one incoming frame: it decodes the envelope, takes the
// call waiting for its rid out of the table and finishes it. A frame that
// does not decode, has no rid, or has a rid nobody waits for (a late reply
// after a timeout, a duplicate, a server-initiated "S…" request, which
// needs a client-side executor that does not exist yet) is counted in
// Unknown and dropped. Receive never blocks on a caller.
func (m *Mux) Receive(frame []byte) {
	var rsp pipeline.Response
	if err := m.dec.Envelope(frame, &rsp); err != nil || rsp.Rid == "" {
		m.unknown.Add(1)
		return
	}
	m.mu.Lock()
	c := m.pending[rsp.Rid]
	if c != nil {
		delete(m.pending, rsp.Rid)
	}
	m.mu.Unlock()
	if c == nil {
		m.unknown.Add(1)
		return
	}
	c.ClearVia()
	c.Rsp = rsp
	m.dec.Finish(c)
}

// Unknown returns how many incoming frames were dropped because they did
// not decode or matched no pending call.
func (m *Mux) Unknown() uint64 { return m.unknown.Load() }

// Pending returns the number of calls waiting in the table.
func (m *Mux) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// FailSent is told that the connection was lost: every pending call whose
// frame was written leaves the table and fails with err (CommError) through
// the retry policy. Calls not yet written stay; they go out on the next
// connection.
func (m *Mux) FailSent(err error) {
	var lost []*pipeline.Call
	m.mu.Lock()
	for rid, c := range m.pending {
		if c.Sent.Load() {
			delete(m.pending, rid)
			lost = append(lost, c)
		}
	}
	m.mu.Unlock()
	for _, c := range lost {
		m.fail(c, err)
	}
}

// FailVia is told that the connection k was lost: every pending call
// written on k leaves the table and fails with err (CommError) through the
// retry policy. Calls written on the endpoint's other connections, and
// calls not yet written, stay. With one connection per endpoint it does
// what FailSent does.
func (m *Mux) FailVia(k *pipeline.Carrier, err error) {
	var lost []*pipeline.Call
	m.mu.Lock()
	for rid, c := range m.pending {
		if c.Via() == k {
			delete(m.pending, rid)
			lost = append(lost, c)
		}
	}
	m.mu.Unlock()
	for _, c := range lost {
		c.ClearVia()
		m.fail(c, err)
	}
}

// Close completes every call still in the table: CommError for those
// already sent, ConnectError for the rest. It is the pipeline's OnClose
// hook.
func (m *Mux) Close() {
	m.mu.Lock()
	all := make([]*pipeline.Call, 0, len(m.pending))
	for rid, c := range m.pending {
		delete(m.pending, rid)
		all = append(all, c)
	}
	m.mu.Unlock()
	for _, c := range all {
		if c.Sent.Load() {
			c.Complete(nil, pipeline.NewError(pipeline.CommError, "closed while waiting for the response"))
		} else {
			c.Complete(nil, pipeline.NewError(pipeline.ConnectError, "closed before the request was sent"))
		}
	}
}
