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
	// wsWriteTimeout bounds one batch of writes; a peer that does not read
	// for this long loses its connection instead of piling up responses.
	wsWriteTimeout = 30 * time.Second
	// wsMaxIdleWorkers bounds the goroutines a connection keeps waiting
	// for requests after a burst.
	wsMaxIdleWorkers = 64
)

// wsConn is one accepted WebSocket connection. Its goroutines: the read
// loop (the ServeHTTP goroutine), one writer, and a worker per request in
// flight (a few idle ones are kept for reuse). run returns only after all
// of them have ended.
type wsConn struct {
	e      *Executor
	conn   *websocket.Conn
	ctx    context.Context // parent of every request's context
	cancel context.CancelFunc

	batch    *batchConn     // nil when the socket could not be wrapped
	handlers sync.WaitGroup // workers
	work     chan *[]byte   // unbuffered: a send succeeds only to an idle worker
	idle     atomic.Int32   // workers waiting on work

	mu     sync.Mutex
	queue  []*[]byte // encoded responses waiting for the writer
	closed bool      // no more responses are accepted
	wake   chan struct{}
	done   chan struct{} // closed when the writer returns
}

func (s *scope) serveWS(w http.ResponseWriter, r *http.Request) {
	w = newBatchWriter(w)
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the request
	}
	if !s.addConn(conn) {
		_ = conn.Close(websocket.StatusGoingAway, "executor closing")
		return
	}
	defer s.removeConn(conn)

	ctx, cancel := context.WithCancel(s.ctx)
	c := &wsConn{
		e:      s.e,
		conn:   conn,
		ctx:    ctx,
		cancel: cancel,
		batch:  batcher(w),
		work:   make(chan *[]byte),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	c.run()
}

func (c *wsConn) run() {
	c.conn.SetReadLimit(int64(c.e.maxSize) * wsDrainFactor)
	go c.writeLoop()
	c.readLoop()

	c.cancel()        // handlers still running see the connection gone,
	c.handlers.Wait() // their responses are queued (or dropped once closed),
	c.closeWriter()   // the writer sends what is queued and returns,
	<-c.done
	_ = c.conn.CloseNow() // a no-op when the peer or Close already closed it
}

// readLoop reads messages until the connection fails or closes. It hands
// each message to a worker of its own, so calls of one connection run
// concurrently and are answered in completion order.
func (c *wsConn) readLoop() {
	max := c.e.maxSize
	for {
		// A context that is never done: coder/websocket then sets up no
		// per-read timeout machinery. Closing the connection ends the read.
		_, rd, err := c.conn.Reader(context.Background())
		if err != nil {
			return
		}
		b := getBuf()
		buf, tooBig, err := readMessage(rd, (*b)[:0], max)
		*b = buf
		if err != nil {
			putBuf(b)
			return
		}
		if tooBig {
			putBuf(b)
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return // beyond the drain limit: coder/websocket closed with 1009
			}
			c.respond(c.e.encodeError("", pipeline.InvalidRequest, tooBigDesc(max)))
			continue
		}
		select {
		case c.work <- b: // an idle worker takes it
		default:
			c.handlers.Add(1)
			go c.worker(b)
		}
	}
}

// worker serves b, then stays to serve further messages while fewer than
// wsMaxIdleWorkers others are idle. Reusing goroutines saves their start
// and, above all, growing a fresh stack for the JSON decoder on every
// request.
func (c *wsConn) worker(b *[]byte) {
	defer c.handlers.Done()
	for {
		c.handle(b)
		if c.idle.Add(1) > wsMaxIdleWorkers {
			c.idle.Add(-1)
			return
		}
		select {
		case b = <-c.work:
			c.idle.Add(-1)
		case <-c.ctx.Done():
			c.idle.Add(-1)
			return
		}
	}
}

// handle decodes and serves one message; it owns b.
func (c *wsConn) handle(b *[]byte) {
	var m pipeline.Request
	rid, desc, ok := decode(*b, &m)
	putBuf(b)
	if !ok {
		if isServerRid(rid) {
			c.e.droppedResponses.Add(1)
			return
		}
		c.respond(c.e.encodeError(rid, pipeline.InvalidRequest, desc))
		return
	}
	switch {
	case m.Rid == "":
		c.respond(c.e.encodeError("", pipeline.InvalidRequest, `missing "rid": required on WebSocket`))
	case isServerRid(m.Rid):
		c.e.droppedResponses.Add(1) // a response to a server call; we make none
	case m.Rid[0] != 'C':
		c.respond(c.e.encodeError(m.Rid, pipeline.InvalidRequest, `"rid" must start with "C"`))
	default:
		c.e.serve(c.ctx, &m, c)
	}
}

func isServerRid(rid string) bool { return rid != "" && rid[0] == 'S' }

// respond queues an encoded response for the writer. It never blocks on
// the network; after the writer is closed it drops b.
func (c *wsConn) respond(b *[]byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		putBuf(b)
		return
	}
	c.queue = append(c.queue, b)
	first := len(c.queue) == 1
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *wsConn) closeWriter() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's only writer. Each time it wakes it takes
// the whole queue and writes it out, one binary message per response,
// collected by the batchConn into one socket write; callers never wait on
// the socket or on each other.
func (c *wsConn) writeLoop() {
	defer close(c.done)
	watchdog := time.AfterFunc(time.Hour, func() { _ = c.conn.CloseNow() })
	watchdog.Stop()
	defer watchdog.Stop()

	var batch []*[]byte
	failed := false
	for range c.wake {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		closed := c.closed
		c.mu.Unlock()

		if !failed && len(batch) > 0 {
			watchdog.Reset(wsWriteTimeout)
			if c.batch != nil {
				c.batch.begin()
			}
		}
		for i, b := range batch {
			if !failed && c.conn.Write(context.Background(), websocket.MessageBinary, *b) != nil {
				failed = true
			}
			putBuf(b)
			batch[i] = nil
		}
		if c.batch != nil && len(batch) > 0 && c.batch.flush() != nil {
			failed = true
		}
		watchdog.Stop()

		if failed && !closed {
			// The socket is gone: refuse further responses, free what is
			// queued, and make the read loop see the failure.
			c.mu.Lock()
			c.closed, closed = true, true
			rest := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, b := range rest {
				putBuf(b)
			}
			_ = c.conn.CloseNow()
		}
		if closed {
			return
		}
	}
}
