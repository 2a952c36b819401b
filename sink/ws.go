package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/ftnpipe/ccm/internal/sockio"
	"github.com/ftnpipe/ccm/pipeline"
)

// WSConfig configures a [WebSocket] sink.
type WSConfig struct {
	// URL is the ws:// or wss:// endpoint.
	URL string
	// TLS is used for wss://; nil means the system defaults.
	TLS *tls.Config
	// DialTimeout bounds the opening handshake (default 10 s).
	DialTimeout time.Duration
	// ReadLimit is the largest message accepted (default 64 KiB). A larger
	// message closes the connection, failing its pending calls.
	ReadLimit int64
	// MaxBatch is the most queued frames written in one go (default 64).
	MaxBatch int

	// Receive gets every incoming message, in the reader's goroutine; the
	// slice is reused after Receive returns. (The mux's Receive.)
	Receive func(frame []byte)
	// Lost is told that the connection is gone; it fails every call that
	// was written on it with err, a CommError. (The mux's FailSent.)
	Lost func(err error)
	// Fail disposes of a call that could not be written (ConnectError);
	// the pipeline's Fail, so the retry policy applies.
	Fail func(c *pipeline.Call, err error)
	// OnState, when not nil, is told when a connection opens (true) or is
	// lost (false).
	OnState func(up bool)
}

// WebSocket is the transmit stage for ws:// and wss:// endpoints. It keeps
// one persistent connection, dialled on first use, and carries every call
// of the endpoint on it; responses are matched by rid (stage.Mux).
//
// Run one worker. The worker owns the connection: it dials, writes and
// notices loss. Frames queued while it works are written together: they
// are collected from the input without blocking (up to MaxBatch) and the
// socket is corked while they are written, so a burst of calls costs one
// system call instead of one per frame. A dial failure fails the batch and
// every call already queued with ConnectError at once, rather than letting
// them wait for their deadlines; the next call dials again. Connection
// loss fails every call written on it with CommError (through Lost).
//
// A lone call need not wait for the worker at all: the pipeline's direct
// lane ([WebSocket.TryDirect]) lets the caller write its frame itself
// while the connection is open and idle, which takes a goroutine hand-off
// off the latency of sequential calls; under load the lane is bypassed and
// frames batch as above.
//
// Every frame is written as a binary message, whatever the codec: the
// binary codecs need it and JSON is valid in one (the reference and our
// executor read both). Incoming messages go to Receive as bytes of either
// frame type; the decoder tells the codec from the first bytes, which is
// where FutoIn puts it (the "MPCK" and "CBOR" markers), so a text frame
// is simply JSON without a marker.
//
// Per connection there is one reader goroutine; both are joined before Run
// returns.
type WebSocket struct {
	cfg WSConfig
	// wmu serialises writes on the connection between the worker and
	// callers writing directly (TryDirect), and guards cur.
	wmu  sync.Mutex
	cur  *wsConn       // the open connection, nil while there is none
	kick chan struct{} // a direct write left bytes for the worker to flush
}

// NewWebSocket returns the stage for cfg.
func NewWebSocket(cfg WSConfig) *WebSocket {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 65536
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 64
	}
	return &WebSocket{cfg: cfg, kick: make(chan struct{}, 1)}
}

// wsConn is one open connection and its reader.
type wsConn struct {
	ws        *websocket.Conn
	cork      *corkConn
	stopClose func() bool   // disarms the close-on-shutdown hook
	dead      chan struct{} // closed by the reader when the connection fails
	err       error         // why, valid after dead is closed
	joined    chan struct{} // closed when the reader returned
}

// Run implements [pipeline.Stage].
func (w *WebSocket) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	var conn *wsConn
	defer func() {
		if conn != nil {
			w.drop(conn, pipeline.NewError(pipeline.CommError, "endpoint closed"))
		}
	}()
	batch := make([]*pipeline.Call, 0, w.cfg.MaxBatch)
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
				w.failAll(batch, in, pipeline.Errorf(pipeline.ConnectError, "cannot connect to %s: %v", w.cfg.URL, err))
				continue
			}
			w.wmu.Lock()
			w.cur = conn
			w.wmu.Unlock()
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
					w.cfg.Fail(c, pipeline.NewError(pipeline.ConnectError, "not sent: the connection failed"))
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
func (w *WebSocket) TryDirect(c *pipeline.Call) bool {
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
	err := conn.ws.Write(context.Background(), websocket.MessageBinary, c.Frame)
	c.ReleaseFrame()
	done := false
	if err == nil {
		done, err = conn.cork.TryFlush()
	}
	switch {
	case err != nil:
		conn.ws.CloseNow() // the reader sees it; the worker drops the connection
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

// write sends the frames of batch on conn, corked into one flush. Writes
// use a context that is never done: coder/websocket then arms no timer per
// frame (its PR #566); an endpoint that closes unblocks a write by closing
// the connection instead.
func (w *WebSocket) write(conn *wsConn, batch []*pipeline.Call) error {
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
		err = conn.ws.Write(context.Background(), websocket.MessageBinary, c.Frame)
		c.ReleaseFrame() // copied into the connection's buffer
		if err != nil {
			break
		}
	}
	if ferr := conn.cork.Uncork(); err == nil {
		err = ferr
	}
	return err
}

// failAll fails the batch and every call already queued behind it.
func (w *WebSocket) failAll(batch []*pipeline.Call, in <-chan *pipeline.Call, err error) {
	for _, c := range batch {
		w.cfg.Fail(c, err)
	}
	for {
		select {
		case c, ok := <-in:
			if !ok {
				return
			}
			w.cfg.Fail(c, err)
		default:
			return
		}
	}
}

func (w *WebSocket) dial(ctx context.Context) (*wsConn, error) {
	dctx, cancel := context.WithTimeout(ctx, w.cfg.DialTimeout)
	defer cancel()
	var cork *corkConn
	dialer := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			cork = &corkConn{Conn: nc}
			if sc, ok := nc.(syscall.Conn); ok && sockio.CanTryWrite {
				cork.raw, _ = sc.SyscallConn()
			}
			return cork, nil
		},
		TLSClientConfig:   w.cfg.TLS,
		ForceAttemptHTTP2: false,
	}
	ws, _, err := websocket.Dial(dctx, w.cfg.URL, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, err
	}
	if cork == nil {
		ws.CloseNow()
		return nil, errors.New("websocket: dial did not use our dialer")
	}
	ws.SetReadLimit(w.cfg.ReadLimit)
	conn := &wsConn{ws: ws, cork: cork, dead: make(chan struct{}), joined: make(chan struct{})}
	// Reads and writes use a context that is never done (no timer per
	// frame); the end of the pipeline closes the connection instead.
	conn.stopClose = context.AfterFunc(ctx, func() { ws.CloseNow() })
	go w.read(conn)
	if w.cfg.OnState != nil {
		w.cfg.OnState(true)
	}
	return conn, nil
}

// read is the connection's reader: it hands each message to Receive and
// closes dead when the connection fails.
func (w *WebSocket) read(conn *wsConn) {
	defer close(conn.joined)
	var buf bytes.Buffer
	for {
		_, r, err := conn.ws.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			conn.err = err
			close(conn.dead)
			return
		}
		w.cfg.Receive(buf.Bytes())
		if buf.Cap() > 4*int(w.cfg.ReadLimit) {
			buf = bytes.Buffer{}
		}
	}
}

// drop closes conn, joins its reader and fails the calls written on it.
func (w *WebSocket) drop(conn *wsConn, err error) {
	w.wmu.Lock() // waits for a direct write in progress; none starts after
	if w.cur == conn {
		w.cur = nil
	}
	w.wmu.Unlock()
	conn.stopClose()
	conn.ws.CloseNow()
	<-conn.joined
	w.cfg.Lost(err)
	if w.cfg.OnState != nil {
		w.cfg.OnState(false)
	}
}

// corkConn buffers writes while corked and sends them with one Write on
// Uncork. Outside a cork it writes through (the handshake, control frames
// the websocket library writes on its own).
type corkConn struct {
	net.Conn
	raw    syscall.RawConn // for non-blocking flushes; nil where unavailable
	mu     sync.Mutex
	corked bool
	buf    []byte
	// tryFn is the one non-blocking write attempt, made once so that a
	// flush allocates nothing; tryN and tryErr are its results (all under
	// mu).
	tryFn  func(fd uintptr) bool
	tryN   int
	tryErr error
}

// TryFlush writes what is buffered without ever blocking: it makes
// non-blocking write attempts and reports done=false when the socket could
// not take everything; the rest stays buffered (and the conn stays corked,
// so later writes queue behind it) until Uncork. An error means the
// connection failed.
func (c *corkConn) TryFlush() (done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tryFn == nil {
		c.tryFn = func(fd uintptr) bool {
			c.tryN, c.tryErr = sockio.TryWriteFD(fd, c.buf)
			return true // one attempt: never wait for the socket
		}
	}
	for len(c.buf) > 0 {
		if rerr := c.raw.Write(c.tryFn); rerr != nil {
			return false, rerr
		}
		if c.tryErr != nil {
			return false, c.tryErr
		}
		if c.tryN == 0 {
			return false, nil // full: the worker finishes the flush
		}
		c.buf = c.buf[c.tryN:]
	}
	c.buf = c.buf[:0]
	c.corked = false
	return true, nil
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// Cork starts buffering.
func (c *corkConn) Cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// Uncork writes what was buffered and stops buffering.
func (c *corkConn) Uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 1<<20 {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}
