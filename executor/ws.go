package executor

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ftnpipe/ccm/pipeline"
)

const (
	// wsDrainFactor bounds how much of an oversize WebSocket message is
	// read and thrown away so that it can be answered: up to this many
	// times the message limit. Anything bigger closes the connection
	// (coder/websocket sends close status 1009, "message too big").
	wsDrainFactor = 4
	// wsWriteTimeout bounds one socket write of a batch that had to wait
	// for the peer; a peer that does not read for this long loses its
	// connection instead of piling up responses.
	wsWriteTimeout = 30 * time.Second
	// wsInlineGrace is how long the read loop runs a request in its own
	// goroutine before another goroutine takes over reading, so that a
	// slow or blocking handler does not hold up the connection's other
	// calls for much longer than this (at most twice as long: the timer
	// stays armed across quick requests, see readLoop).
	wsInlineGrace = time.Millisecond
	// slowRun is how many requests after a slow one (a handler detached
	// after wsInlineGrace) are started on goroutines of their own instead
	// of inline; each quick one among them counts down, each slow one
	// starts the count again. A service whose handlers wait (on a
	// database, another service) then costs a goroutine per request and
	// no grace period each, instead of holding the connection's reading
	// for one grace period per request.
	slowRun = 64
	// maxSpawned bounds the requests of one connection running on their
	// own goroutines at once; the reader waits for one to end (and the
	// peer's writes wait on the socket) beyond it.
	maxSpawned = 1 << 14
)

// muxConn is one accepted multiplexed connection: a WebSocket, or a TCP
// or UNIX stream socket (stream.go). Its link does the transport's reading
// and writing; everything else (the inline reader, detaching, rid checks,
// dispatch) is the same for every transport.
//
// One goroutine at a time is the connection's reader. It reads a message
// and serves it itself, so a quick request costs no goroutine handoff:
// read, handle, encode and write all happen on the reader. Each inline
// request is watched by a timer (wsInlineGrace); when it fires while the
// handler has run that long, the timer's goroutine becomes the reader and
// the old one ends once its request is answered. The timer is not re-armed
// per request: it stays armed across quick requests and, when it fires
// early for the current one, re-arms itself for the rest, so a steady
// stream of quick calls costs about one timer operation per grace period
// rather than per call (adding a timer wakes the runtime's poller, which
// cost more than the rest of a quick request). After a detach the
// connection serves the next requests on goroutines of their own (slowRun)
// until they turn out quick again, so handlers that wait cost a goroutine
// each rather than a grace period each. Calls of one connection thus
// still run concurrently and are answered in completion order.
//
// Responses are written by the goroutine that made them, through
// coder/websocket into the batchConn, which never waits on the socket:
// whatever the reader writes while it works through received input goes
// out in one system call before its next socket read.
//
// run returns only after every goroutine of the connection has ended.
type muxConn struct {
	e      *Executor
	link   muxLink
	ch     channel         // the transport, for the spec checks
	ctx    context.Context // parent of every request's context
	cancel context.CancelFunc

	batch    *batchConn     // nil when the socket could not be wrapped
	handlers sync.WaitGroup // readers, current and detached
	inline   atomic.Uint64  // token of the request the reader serves inline, 0 when none
	seq      atomic.Uint64  // source of tokens
	grace    *time.Timer    // fires detach
	armed    atomic.Bool    // grace is pending
	since    atomic.Int64   // when the inline request started, in monotonic ns
	slow     atomic.Int32   // requests still to start on their own goroutine (slowRun)
	spawned  chan struct{}  // one token per request running on its own goroutine

	mu    sync.Mutex
	ended bool // the reader has seen the connection end: no new readers
}

func (s *scope) serveWS(w http.ResponseWriter, r *http.Request) {
	w = newBatchWriter(w)
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the request
	}
	if !s.addConn(conn, func() { _ = conn.Close(websocket.StatusGoingAway, "executor closing") }) {
		_ = conn.Close(websocket.StatusGoingAway, "executor closing")
		return
	}
	defer s.removeConn(conn)

	conn.SetReadLimit(int64(s.e.maxSize) * wsDrainFactor)
	ch := chWS
	if r.TLS != nil {
		ch = chWSS
	}
	newMuxConn(s, wsLink{conn}, batcher(w), ch).run()
}

// muxLink is what a muxConn needs of its transport.
type muxLink interface {
	// next reads the next message, answering oversize ones itself (through
	// c.respond) or ending the connection. It returns nil once the
	// connection has failed or closed. Only the current reader calls it.
	next(c *muxConn) *[]byte
	// send writes one encoded message; it never waits on the peer (the
	// socket is a batchConn) and may be called concurrently.
	send(b []byte) error
	// closeNow closes the connection without a handshake.
	closeNow()
}

func newMuxConn(s *scope, l muxLink, batch *batchConn, ch channel) *muxConn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &muxConn{e: s.e, link: l, ch: ch, ctx: ctx, cancel: cancel, batch: batch, spawned: make(chan struct{}, maxSpawned)}
}

// wsLink is the muxLink of a WebSocket: one FutoIn message per WebSocket
// message, written as a binary frame.
type wsLink struct{ conn *websocket.Conn }

func (l wsLink) send(b []byte) error {
	return l.conn.Write(context.Background(), websocket.MessageBinary, b)
}

func (l wsLink) closeNow() { _ = l.conn.CloseNow() }

func (c *muxConn) run() {
	c.grace = time.AfterFunc(time.Hour, c.detach)
	c.grace.Stop()

	c.handlers.Add(1)
	c.readLoop()      // returns when the connection ends, or when detached
	c.handlers.Wait() // every reader and handler has ended (the last one cancelled c.ctx)
	c.grace.Stop()
	c.cancel()
	if c.batch != nil {
		c.batch.drain() // what is collected is written out
	}
	c.link.closeNow() // a no-op when the peer or Close already closed it
}

// readLoop reads messages until the connection fails or closes, serving
// each itself, or until it is detached while serving one (another
// goroutine reads by then). The caller has counted it in c.handlers.
func (c *muxConn) readLoop() {
	defer c.handlers.Done()
	for {
		b := c.link.next(c)
		if b == nil {
			c.mu.Lock()
			c.ended = true
			c.mu.Unlock()
			c.cancel() // handlers still running see the connection gone
			return
		}
		if c.slow.Load() > 0 {
			c.spawn(b)
			continue
		}
		tok := c.seq.Add(1)
		c.since.Store(monoNow())
		c.inline.Store(tok)
		if c.armed.CompareAndSwap(false, true) {
			c.grace.Reset(wsInlineGrace)
		}
		c.handle(b)
		if !c.inline.CompareAndSwap(tok, 0) {
			return // detached: another goroutine is the reader now
		}
	}
}

// spawn serves one request on a goroutine of its own, after a slow one.
// The reader (counted in c.handlers) counts it first; it waits while
// maxSpawned requests run.
func (c *muxConn) spawn(b *[]byte) {
	c.spawned <- struct{}{}
	c.e.spawned.Add(1)
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		start := monoNow()
		c.handle(b)
		<-c.spawned
		if time.Duration(monoNow()-start) >= wsInlineGrace {
			c.slow.Store(slowRun)
		} else if c.slow.Add(-1) < 0 {
			c.slow.Store(0)
		}
	}()
}

// detach runs when a request has been served inline for wsInlineGrace:
// the timer's goroutine takes over reading, and the goroutine serving the
// request ends after it. A late timer may detach a later request early;
// that only costs a goroutine.
func (c *muxConn) detach() {
	c.armed.Store(false)
	tok := c.inline.Load()
	if tok == 0 {
		return // idle: the next request arms the timer again
	}
	if ran := time.Duration(monoNow() - c.since.Load()); ran < wsInlineGrace {
		// Armed for an earlier request: watch this one for the rest.
		if c.armed.CompareAndSwap(false, true) {
			c.grace.Reset(wsInlineGrace - ran)
		}
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	// Safe while not ended: the current reader is still counted.
	c.handlers.Add(1)
	c.mu.Unlock()
	if !c.inline.CompareAndSwap(tok, 0) {
		c.handlers.Done() // the request finished first
		return
	}
	c.e.detached.Add(1)
	c.slow.Store(slowRun)
	c.readLoop()
}

// monoStart anchors monoNow.
var monoStart = time.Now()

// monoNow is monotonic nanoseconds since monoStart.
func monoNow() int64 { return int64(time.Since(monoStart)) }

// next implements muxLink: an oversize message up to wsDrainFactor times
// the limit is read, discarded and answered InvalidRequest.
func (l wsLink) next(c *muxConn) *[]byte {
	max := c.e.maxSize
	for {
		// A context that is never done: coder/websocket then sets up no
		// per-read timeout machinery. Closing the connection ends the read.
		_, rd, err := l.conn.Reader(context.Background())
		if err != nil {
			return nil
		}
		b := getBuf()
		buf, tooBig, err := readMessage(rd, (*b)[:0], max)
		*b = buf
		if err != nil {
			putBuf(b)
			return nil
		}
		if !tooBig {
			return b
		}
		putBuf(b)
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return nil // beyond the drain limit: coder/websocket closed with 1009
		}
		c.respond(c.e.encodeError("", pipeline.InvalidRequest, tooBigDesc(max)))
	}
}

// handle decodes and serves one message; it owns b. The codec is the one
// the message's first bytes name, whatever the frame type or transport (as
// in the reference), and the reply goes out in it.
func (c *muxConn) handle(b *[]byte) {
	var m pipeline.Request
	cd, rid, desc, ok := decodeIn(*b, &m)
	in := inbound{ch: c.ch, size: len(*b)}
	putBuf(b)
	if !ok {
		if isServerRid(rid) {
			c.e.droppedResponses.Add(1)
			return
		}
		c.respond(c.e.signedError(cd, rid, pipeline.InvalidRequest, desc, nil))
		return
	}
	switch {
	case m.Rid == "":
		c.respond(c.e.signedError(cd, "", pipeline.InvalidRequest, `missing "rid": required on a multiplexed channel`, nil))
	case isServerRid(m.Rid):
		c.e.droppedResponses.Add(1) // a response to a server call; we make none
	case m.Rid[0] != 'C':
		c.respond(c.e.signedError(cd, m.Rid, pipeline.InvalidRequest, `"rid" must start with "C"`, nil))
	default:
		c.e.serveIn(c.ctx, cd, &m, in, c)
	}
}

func isServerRid(rid string) bool { return rid != "" && rid[0] == 'S' }

// respond writes an encoded response as one message. It does not wait on
// the network (see batchConn). A failed write closes the connection, which
// ends the read loop.
func (c *muxConn) respond(b *[]byte) {
	if c.link.send(*b) != nil {
		c.link.closeNow()
	}
	putBuf(b)
}
