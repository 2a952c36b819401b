package sink

import (
	"context"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
)

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
}

// newLink returns a link over cork whose reader has not started; the
// caller sets send and closeNow, then starts the reader (which must close
// dead, after setting err, and then joined) and arms stopClose with
// closeOnEnd.
func newLink(cork *corkConn) *link {
	return &link{cork: cork, dead: make(chan struct{}), joined: make(chan struct{})}
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

// persistent is the transmit worker shared by the persistent transports:
// one connection per endpoint, dialled on first use, batched writes, a
// direct lane for lone calls, and the error rules of the package doc. The
// transport supplies dial.
type persistent struct {
	url      string // for error texts; never holds credentials
	maxBatch int
	dial     func(ctx context.Context) (*link, error)
	lost     func(err error)
	fail     func(c *pipeline.Call, err error)
	onState  func(up bool)

	// wmu serialises writes on the connection between the worker and
	// callers writing directly (TryDirect), and guards cur.
	wmu  sync.Mutex
	cur  *link         // the open connection, nil while there is none
	kick chan struct{} // a direct write left bytes for the worker to flush
}

func (w *persistent) init(url string, maxBatch int, lost func(error), fail func(*pipeline.Call, error), onState func(bool)) {
	if maxBatch <= 0 {
		maxBatch = 64
	}
	w.url, w.maxBatch, w.lost, w.fail, w.onState = url, maxBatch, lost, fail, onState
	w.kick = make(chan struct{}, 1)
}

// Run implements [pipeline.Stage]. Run one worker.
func (w *persistent) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	var conn *link
	defer func() {
		if conn != nil {
			w.drop(conn, pipeline.NewError(pipeline.CommError, "endpoint closed"))
		}
	}()
	batch := make([]*pipeline.Call, 0, w.maxBatch)
	for {
		var dead chan struct{}
		if conn != nil {
			dead = conn.dead
		}
		var c *pipeline.Call
		var ok bool
		select {
		case c, ok = <-in:
			if !ok {
				return nil
			}
		case <-dead:
			w.drop(conn, pipeline.Errorf(pipeline.CommError, "connection lost: %v", conn.err))
			conn = nil
			continue
		case <-w.kick:
			// A direct write left bytes behind: finish them, blocking here
			// rather than in a caller.
			if conn != nil {
				w.wmu.Lock()
				err := conn.cork.Uncork()
				w.wmu.Unlock()
				if err != nil {
					w.drop(conn, pipeline.Errorf(pipeline.CommError, "write failed: %v", err))
					conn = nil
				}
			}
			continue
		}
		batch = append(batch[:0], c)
		batch = collect(batch, in)
		if ctx.Err() != nil {
			w.failAll(batch, in, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
			continue
		}
		if conn == nil {
			var err error
			if conn, err = w.dial(ctx); err != nil {
				w.failAll(batch, in, pipeline.Errorf(pipeline.ConnectError, "cannot connect to %s: %v", w.url, err))
				continue
			}
			w.wmu.Lock()
			w.cur = conn
			w.wmu.Unlock()
			if w.onState != nil {
				w.onState(true)
			}
		}
		w.wmu.Lock()
		err := w.write(conn, batch)
		w.wmu.Unlock()
		if err != nil {
			w.drop(conn, pipeline.Errorf(pipeline.CommError, "write failed: %v", err))
			conn = nil
			// Calls after the failed one were never written: nothing else
			// would send them, so they fail now (ConnectError, retried).
			for _, c := range batch {
				if !c.Sent.Load() && !c.IsDone() {
					w.fail(c, pipeline.NewError(pipeline.ConnectError, "not sent: the connection failed"))
				}
			}
		}
	}
}

// TryDirect writes c from the caller's goroutine when a connection is open
// and no write is in progress, saving the hand-off to the worker for a
// lone call; it reports false (the caller then queues c as usual) when the
// connection is busy, not open or failing. A failed write closes the
// connection: the worker then fails the calls written on it, c included,
// as for any loss. It is the pipeline's direct lane.
func (w *persistent) TryDirect(c *pipeline.Call) bool {
	if c.OneWay {
		return false // completes when written: the worker knows when that is
	}
	if !w.wmu.TryLock() {
		return false
	}
	defer w.wmu.Unlock()
	conn := w.cur
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
		case w.kick <- struct{}{}:
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

// write sends the frames of batch on conn, corked into one flush. Once
// the flush succeeded, the one-way calls of the batch (pipeline.Call.OneWay)
// are complete: their frames are on the socket, and no response will come.
func (w *persistent) write(conn *link, batch []*pipeline.Call) error {
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
		c.Sent.Store(true)
		err = conn.send(c.Frame)
		c.ReleaseFrame() // copied into the connection's buffer
		if err != nil {
			break
		}
	}
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

// failAll fails the batch and every call already queued behind it.
func (w *persistent) failAll(batch []*pipeline.Call, in <-chan *pipeline.Call, err error) {
	for _, c := range batch {
		w.fail(c, err)
	}
	for {
		select {
		case c, ok := <-in:
			if !ok {
				return
			}
			w.fail(c, err)
		default:
			return
		}
	}
}

// drop closes conn, joins its reader and fails the calls written on it.
func (w *persistent) drop(conn *link, err error) {
	w.wmu.Lock() // waits for a direct write in progress; none starts after
	if w.cur == conn {
		w.cur = nil
	}
	w.wmu.Unlock()
	conn.stopClose()
	conn.closeNow()
	<-conn.joined
	w.lost(err)
	if w.onState != nil {
		w.onState(false)
	}
}
