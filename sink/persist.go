package sink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/ftnpipe/ccm/pipeline"
)

// Healing says how a persistent transport ([WebSocket], [Stream]) keeps
// its connections: how many, how it notices a dead peer, how fast it
// dials again. The zero value means one connection, no heartbeat and the
// default reconnect backoff.
type Healing struct {
	// Conns is how many connections the endpoint keeps (default 1). Each
	// has its own worker and reader; a call goes to the one with the
	// fewest calls in flight (written, not yet answered, plus handed to
	// it and not yet written), the lowest-numbered on a tie, avoiding
	// connections that wait to dial again after a failure. Connections
	// open lazily: a second one is dialled only when a call finds the
	// first one busy.
	Conns int
	// Heartbeat, when positive, is the idle time after which a connection
	// that has received nothing is pinged (a WebSocket ping, or the Ping
	// control frame of a stream connection, see the package doc); a ping
	// not answered within the same time closes the connection as lost
	// (CommError for the calls written on it). A dead or hung peer is thus
	// noticed 2 to 3 Heartbeats after the last thing it sent. Anything
	// received counts as an answer, so a busy connection is never pinged.
	Heartbeat time.Duration
	// ReconnectMin and ReconnectMax bound the wait between attempts to
	// dial a connection that failed (defaults 100 ms and 5 s): after each
	// failed dial the wait doubles, ±20 % jitter, up to ReconnectMax.
	ReconnectMin, ReconnectMax time.Duration
}

// ConnState reports that one connection of a persistent transport opened
// or went away.
type ConnState struct {
	Conn int   // which connection of the endpoint: 0 to Conns-1
	Up   bool  // true: it opened; false: it is gone
	Err  error // why it went (a CommError); nil when Up
}

// link is one open connection of a persistent transport (WebSocket, TCP,
// UNIX): the corked socket under it, how to put one message on it, and
// its reader's state.
type link struct {
	cork      *corkConn
	send      func(frame []byte) error // writes one message; corked, so it does not block
	closeNow  func()                   // closes without a handshake; the reader then ends
	stopClose func() bool              // disarms the close-on-shutdown hook
	dead      chan struct{}            // closed by the reader when the connection fails
	err       error                    // why, valid after dead is closed
	joined    chan struct{}            // closed when the reader returned

	// carrier identifies the connection to the pending table and counts
	// the calls in flight on it.
	carrier pipeline.Carrier
	// rx counts what arrived (messages, pongs): the heartbeat's sign of
	// life.
	rx atomic.Uint64
	// ping, when set, pings the peer and waits for the answer (WebSocket);
	// otherwise the heartbeat asks the worker, through pingReq, to write
	// a Ping control frame (stream).
	ping     func(ctx context.Context) error
	pingReq  chan struct{}
	sendPing func() error // writes a Ping control frame; under the slot's write lock
	killed   atomic.Pointer[pipeline.Error]
	hb       heartbeat
}

// newLink returns a link over cork whose reader has not started; the
// caller sets send and closeNow (and ping or sendPing), then starts the
// reader (which must count what arrives in rx, and close dead, after
// setting err, and then joined) and arms stopClose with closeOnEnd.
func newLink(cork *corkConn) *link {
	return &link{cork: cork, dead: make(chan struct{}), joined: make(chan struct{}), pingReq: make(chan struct{}, 1)}
}

// closeOnEnd closes l when ctx ends: the end of the pipeline unblocks a
// write stuck on a peer that does not read.
func (l *link) closeOnEnd(ctx context.Context) {
	l.stopClose = context.AfterFunc(ctx, l.closeNow)
}

// fail records why the reader stopped and closes dead.
func (l *link) fail(err error) {
	l.err = err
	close(l.dead)
}

// kill closes l for a reason of ours (a heartbeat without answer), which
// then is the reason the connection is reported lost.
func (l *link) kill(err *pipeline.Error) {
	select {
	case <-l.dead:
		return // already gone, for a reason of its own
	default:
	}
	l.killed.CompareAndSwap(nil, err)
	l.closeNow()
}

// cause is why l went, once dead is closed: a CommError.
func (l *link) cause() error {
	if err := l.killed.Load(); err != nil {
		return err
	}
	return pipeline.Errorf(pipeline.CommError, "connection lost: %v", l.err)
}

// errEndpointClosed is why the connections of a closed endpoint went.
func errEndpointClosed() error { return pipeline.NewError(pipeline.CommError, "endpoint closed") }

// slot is one of an endpoint's connections: its worker's state and what
// callers and the dispatcher read to choose it.
type slot struct {
	id int
	// wmu serialises writes on the connection between the worker and
	// callers writing directly (TryDirect), and guards changes of cur.
	wmu  sync.Mutex
	cur  atomic.Pointer[link] // the open connection, nil while there is none
	kick chan struct{}        // a direct write left bytes for the worker to flush
	// q and queued: with several connections, the calls the dispatcher
	// handed to this slot, and how many of them are not yet written or
	// failed.
	q      chan *pipeline.Call
	queued atomic.Int64
	// retryAt is when the next dial may be made (Unix ns), 0 when at once;
	// bo is the backoff schedule. Written by the worker only.
	retryAt atomic.Int64
	bo      *reconnectBackoff
}

// load is how busy s is: calls in flight on its connection plus calls
// handed to it and not yet written.
func (s *slot) load() int64 {
	n := s.queued.Load()
	if l := s.cur.Load(); l != nil {
		n += l.carrier.InFlight()
	}
	return n
}

// persistent is the transmit stage shared by the persistent transports:
// Conns connections per endpoint, each dialled on first use and again
// after a loss, with its own worker, batched writes, a direct lane for
// lone calls, a heartbeat, and the error rules of the package doc. The
// transport supplies dial.
type persistent struct {
	url       string // for error texts; never holds credentials
	maxBatch  int
	heal      Healing
	dial      func(ctx context.Context) (*link, error)
	lost      func(k *pipeline.Carrier, err error)
	fail      func(c *pipeline.Call, err error)
	onState   func(ConnState)
	slots     []*slot
	qmu       sync.RWMutex // excludes TryDirect's hand-off to a slot from Run closing the slots' queues
	qclosed   bool
	running   atomic.Bool
	pingsSent atomic.Uint64
	dials     atomic.Uint64
}

func (w *persistent) init(url string, maxBatch int, heal Healing, lost func(*pipeline.Carrier, error), fail func(*pipeline.Call, error), onState func(ConnState)) {
	if maxBatch <= 0 {
		maxBatch = 64
	}
	if heal.Conns < 1 {
		heal.Conns = 1
	}
	w.url, w.maxBatch, w.heal, w.lost, w.fail, w.onState = url, maxBatch, heal, lost, fail, onState
	w.slots = make([]*slot, heal.Conns)
	for i := range w.slots {
		s := &slot{id: i, kick: make(chan struct{}, 1), bo: newReconnectBackoff(heal.ReconnectMin, heal.ReconnectMax)}
		if heal.Conns > 1 {
			s.q = make(chan *pipeline.Call, maxBatch)
		}
		w.slots[i] = s
	}
}

// Pings returns how many heartbeat pings were sent on this endpoint's
// connections so far.
func (w *persistent) Pings() uint64 { return w.pingsSent.Load() }

// Dials returns how many times this endpoint tried to open a connection.
func (w *persistent) Dials() uint64 { return w.dials.Load() }

// Run implements [pipeline.Stage]. Run one worker: with one connection it
// is that connection's worker; with more it hands each call to the least
// loaded connection's worker, which it starts and joins.
func (w *persistent) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	if !w.running.CompareAndSwap(false, true) {
		panic("sink: a persistent transport runs one worker")
	}
	if len(w.slots) == 1 {
		w.serve(ctx, w.slots[0], in)
		return nil
	}
	var wg conc.WaitGroup
	for _, s := range w.slots {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					// Nobody else reads q: fail what still comes, then let
					// the wait group carry the panic to Run's caller.
					for c := range s.q {
						c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "transmit worker panicked: %v", r))
					}
					panic(r)
				}
			}()
			w.serve(ctx, s, s.q)
		})
	}
	for c := range in {
		s := w.pick()
		s.queued.Add(1)
		s.q <- c
	}
	w.qmu.Lock()
	w.qclosed = true
	for _, s := range w.slots {
		close(s.q)
	}
	w.qmu.Unlock()
	wg.Wait()
	return nil
}

// pick returns the slot for the next call: the least loaded one among
// those that may dial now (or are connected), the lowest index on a tie.
func (w *persistent) pick() *slot {
	var best *slot
	var bestLoad int64
	bestWaits := true
	var now int64
	for _, s := range w.slots {
		waits := false
		if at := s.retryAt.Load(); at != 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			waits = at > now
		}
		l := s.load()
		if best == nil || bestWaits && !waits || waits == bestWaits && l < bestLoad {
			best, bestLoad, bestWaits = s, l, waits
		}
	}
	return best
}

// serve is the worker of slot s, reading the calls for it from in until in
// is closed. It owns the connection: it dials, writes, pings on the
// heartbeat's request and notices loss.
func (w *persistent) serve(ctx context.Context, s *slot, in <-chan *pipeline.Call) {
	var conn *link
	defer func() {
		if conn != nil {
			w.drop(s, conn, errEndpointClosed())
		}
	}()
	batch := make([]*pipeline.Call, 0, w.maxBatch)
	for {
		var dead, pingReq chan struct{}
		if conn != nil {
			dead, pingReq = conn.dead, conn.pingReq
		}
		var c *pipeline.Call
		var ok bool
		select {
		case c, ok = <-in:
			if !ok {
				return
			}
		case <-dead:
			err := conn.cause()
			if ctx.Err() != nil {
				err = errEndpointClosed() // closeOnEnd closed it
			}
			w.drop(s, conn, err)
			conn = nil
			continue
		case <-s.kick:
			// A direct write left bytes behind: finish them, blocking here
			// rather than in a caller.
			if conn != nil {
				s.wmu.Lock()
				err := conn.cork.Uncork()
				s.wmu.Unlock()
				if err != nil {
					w.drop(s, conn, pipeline.Errorf(pipeline.CommError, "write failed: %v", err))
					conn = nil
				}
			}
			continue
		case <-pingReq:
			s.wmu.Lock()
			err := conn.sendPing()
			s.wmu.Unlock()
			if err != nil {
				w.drop(s, conn, pipeline.Errorf(pipeline.CommError, "write failed: %v", err))
				conn = nil
			}
			continue
		}
		batch = append(batch[:0], c)
		batch = collect(batch, in)
		n, todo := len(batch), batch
		if ctx.Err() != nil {
			n += w.failAll(batch, in, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
			todo = nil
		} else if conn == nil {
			var failed int
			conn, todo, failed = w.connect(ctx, s, batch, in)
			n += failed
		}
		if conn != nil && len(todo) > 0 {
			s.wmu.Lock()
			err := w.write(conn, todo, s, n)
			s.wmu.Unlock()
			n = 0 // released by write
			if err != nil {
				w.drop(s, conn, pipeline.Errorf(pipeline.CommError, "write failed: %v", err))
				conn = nil
				// Calls after the failed one were never written: nothing
				// else would send them, so they fail now (ConnectError,
				// retried).
				for _, c := range todo {
					if !c.Sent.Load() && !c.IsDone() {
						w.fail(c, pipeline.NewError(pipeline.ConnectError, "not sent: the connection failed"))
					}
				}
			}
		}
		s.release(n)
	}
}

// release takes n calls off the count of calls handed to s and not yet
// written (several connections only).
func (s *slot) release(n int) {
	if s.q != nil && n != 0 {
		s.queued.Add(-int64(n))
	}
}

// connect opens slot s's connection for batch: at once, or, while the
// slot backs off after a failure, once the wait is over; a call whose
// deadline comes first fails at once with ConnectError and leaves the
// batch. When the dial fails, batch and every call queued behind it fail
// with ConnectError. connect returns the connection (nil when there is
// none), what is left of batch to write, and how many calls it took from
// in and failed.
func (w *persistent) connect(ctx context.Context, s *slot, batch []*pipeline.Call, in <-chan *pipeline.Call) (*link, []*pipeline.Call, int) {
	if at := s.retryAt.Load(); at != 0 {
		if wait := time.Until(time.Unix(0, at)); wait > 0 {
			next := time.Now().Add(wait)
			kept := batch[:0]
			for _, c := range batch {
				switch {
				case c.IsDone():
				case !c.Deadline.IsZero() && c.Deadline.Before(next):
					w.fail(c, pipeline.Errorf(pipeline.ConnectError,
						"not connected to %s: the next attempt, in %v, comes after the call's deadline", w.url, wait.Round(time.Millisecond)))
				default:
					kept = append(kept, c)
				}
			}
			if batch = kept; len(batch) == 0 {
				return nil, nil, 0
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, nil, w.failAll(batch, in, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
			}
		}
	}
	w.dials.Add(1)
	conn, err := w.dial(ctx)
	if err != nil {
		s.retryAt.Store(time.Now().Add(s.bo.next()).UnixNano())
		return nil, nil, w.failAll(batch, in, pipeline.Errorf(pipeline.ConnectError, "cannot connect to %s: %v", w.url, err))
	}
	s.retryAt.Store(0)
	s.bo.reset()
	s.wmu.Lock()
	s.cur.Store(conn)
	s.wmu.Unlock()
	conn.startHeartbeat(w.heal.Heartbeat, &w.pingsSent)
	if w.onState != nil {
		w.onState(ConnState{Conn: s.id, Up: true})
	}
	return conn, batch, 0
}

// TryDirect writes c from the caller's goroutine when the least loaded
// connection is open and no write is in progress on it, saving the
// hand-off to the worker for a lone call; it reports false (the caller
// then queues c as usual) when that connection is busy, not open or
// failing. A failed write closes the connection: the worker then fails the
// calls written on it, c included, as for any loss. It is the pipeline's
// direct lane.
//
// With several connections it also saves the dispatcher's hop: when the
// chosen connection cannot be written at once, c goes straight into that
// connection's queue if there is room.
func (w *persistent) TryDirect(c *pipeline.Call) bool {
	if c.OneWay {
		return false // completes when written: the worker knows when that is
	}
	if len(w.slots) == 1 {
		return w.tryWrite(w.slots[0], c)
	}
	s := w.pick()
	if w.tryWrite(s, c) {
		return true
	}
	w.qmu.RLock()
	defer w.qmu.RUnlock()
	if w.qclosed {
		return false
	}
	s.queued.Add(1)
	select {
	case s.q <- c:
		return true
	default:
		s.queued.Add(-1)
		return false
	}
}

// tryWrite is the direct write of TryDirect on slot s.
func (w *persistent) tryWrite(s *slot, c *pipeline.Call) bool {
	if !s.wmu.TryLock() {
		return false
	}
	defer s.wmu.Unlock()
	conn := s.cur.Load()
	if conn == nil || conn.cork.raw == nil {
		return false
	}
	select {
	case <-conn.dead:
		return false
	default:
	}
	// The frame goes into the cork buffer (never blocks), then out with
	// non-blocking writes; what the socket cannot take now is left for the
	// worker, so the caller never waits on the peer.
	conn.cork.Cork()
	c.SetVia(&conn.carrier)
	c.Sent.Store(true)
	err := conn.send(c.Frame)
	c.ReleaseFrame()
	done := false
	if err == nil {
		done, err = conn.cork.TryFlush()
	}
	switch {
	case err != nil:
		conn.closeNow() // the reader sees it; the worker drops the connection
	case !done:
		select {
		case s.kick <- struct{}{}:
		default: // a kick is already pending
		}
	}
	return true
}

// collect appends what is already queued on in, without blocking, up to
// the batch's capacity.
func collect(batch []*pipeline.Call, in <-chan *pipeline.Call) []*pipeline.Call {
	for len(batch) < cap(batch) {
		select {
		case c, ok := <-in:
			if !ok {
				return batch
			}
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// write sends the frames of batch on conn, corked into one flush. Before
// the flush it releases n calls from s's queued count: the calls now
// count as in flight on conn, so the slot's load never looks lower than
// it is, nor higher once the peer has the frames. Once the flush
// succeeded, the one-way calls of the batch (pipeline.Call.OneWay) are
// complete: their frames are on the socket, and no response will come.
func (w *persistent) write(conn *link, batch []*pipeline.Call, s *slot, n int) error {
	conn.cork.Cork()
	var err error
	for _, c := range batch {
		if c.IsDone() {
			continue // timed out or cancelled while queued
		}
		// Sent before the write: from here a loss means the peer may have
		// the request (CommError). Only this goroutine fails calls on loss
		// (drop), after write returns, so nobody retries c while it is
		// being written.
		c.SetVia(&conn.carrier)
		c.Sent.Store(true)
		err = conn.send(c.Frame)
		c.ReleaseFrame() // copied into the connection's buffer
		if err != nil {
			break
		}
	}
	s.release(n)
	if ferr := conn.cork.Uncork(); err == nil {
		err = ferr
	}
	if err == nil {
		for _, c := range batch {
			if c.OneWay && c.Sent.Load() {
				c.Complete(nil, nil)
			}
		}
	}
	return err
}

// failAll fails the batch and every call already queued behind it; it
// returns how many it took from in.
func (w *persistent) failAll(batch []*pipeline.Call, in <-chan *pipeline.Call, err error) int {
	for _, c := range batch {
		w.fail(c, err)
	}
	n := 0
	for {
		select {
		case c, ok := <-in:
			if !ok {
				return n
			}
			n++
			w.fail(c, err)
		default:
			return n
		}
	}
}

// drop closes conn, joins its reader and heartbeat and fails the calls
// written on it. The slot may dial again at once: the connection was made,
// so the backoff had been reset.
func (w *persistent) drop(s *slot, conn *link, err error) {
	s.wmu.Lock() // waits for a direct write in progress; none starts after
	if s.cur.Load() == conn {
		s.cur.Store(nil)
	}
	s.wmu.Unlock()
	conn.stopClose()
	conn.stopHeartbeat()
	conn.closeNow()
	<-conn.joined
	w.lost(&conn.carrier, err)
	if w.onState != nil {
		w.onState(ConnState{Conn: s.id, Up: false, Err: err})
	}
}
