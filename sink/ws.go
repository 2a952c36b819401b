package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
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
	// Healing: how many connections, heartbeat, reconnect backoff.
	Healing

	// Receive gets every incoming message, in the reader's goroutine; the
	// slice is reused after Receive returns. (The mux's Receive.)
	Receive func(frame []byte)
	// Lost is told that the connection k is gone; it fails every call
	// that was written on it with err, a CommError. (The mux's FailVia.)
	Lost func(k *pipeline.Carrier, err error)
	// Fail disposes of a call that could not be written (ConnectError);
	// the pipeline's Fail, so the retry policy applies.
	Fail func(c *pipeline.Call, err error)
	// OnState, when not nil, is told when a connection opens or goes
	// away, in the goroutine of that connection's worker (so in order
	// for each connection); it must not block.
	OnState func(ConnState)
}

// WebSocket is the transmit stage for ws:// and wss:// endpoints. It keeps
// persistent connections (one unless [Healing].Conns says more), dialled
// on first use, and carries every call of the endpoint on them; responses
// are matched by rid (stage.Mux). How they reconnect, ping and share the
// load: package doc, "Connections that heal".
//
// Run one worker. Each connection's worker owns it: it dials, writes and
// notices loss. Frames queued while it works are written together: they
// are collected from the input without blocking (up to MaxBatch) and the
// socket is corked while they are written, so a burst of calls costs one
// system call instead of one per frame. A dial failure fails the batch and
// every call already queued with ConnectError at once, rather than letting
// them wait for their deadlines; later calls wait for the next attempt
// (backoff). Connection loss fails every call written on it with
// CommError (through Lost).
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
// Per connection there is one worker and one reader goroutine (with one
// connection, the worker is Run's own goroutine); all are joined before
// Run returns.
type WebSocket struct {
	persistent
	cfg WSConfig
}

// NewWebSocket returns the stage for cfg.
func NewWebSocket(cfg WSConfig) *WebSocket {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 65536
	}
	w := &WebSocket{cfg: cfg}
	w.init(cfg.URL, cfg.MaxBatch, cfg.Healing, cfg.Lost, cfg.Fail, cfg.OnState)
	w.persistent.dial = w.dial
	return w
}

func (w *WebSocket) dial(ctx context.Context) (*link, error) {
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
		// One transport per dial, used for one handshake: a failed one
		// (a plain HTTP answer, a peer that never finishes TLS) must leave
		// no pooled connection or background dial behind.
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: w.cfg.DialTimeout,
	}
	ws, _, err := websocket.Dial(dctx, w.cfg.URL, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	if cork == nil {
		ws.CloseNow()
		return nil, errors.New("websocket: dial did not use our dialer")
	}
	ws.SetReadLimit(w.cfg.ReadLimit)
	conn := newLink(cork)
	// Writes use a context that is never done: coder/websocket then arms
	// no timer per frame (its PR #566); the end of the pipeline closes the
	// connection instead.
	conn.send = func(frame []byte) error {
		return ws.Write(context.Background(), websocket.MessageBinary, frame)
	}
	conn.closeNow = func() { ws.CloseNow() }
	conn.ping = ws.Ping
	conn.closeOnEnd(ctx)
	go w.read(ws, conn)
	return conn, nil
}

// read is the connection's reader: it hands each message to Receive and
// fails conn when the connection fails.
func (w *WebSocket) read(ws *websocket.Conn, conn *link) {
	defer close(conn.joined)
	var buf bytes.Buffer
	for {
		_, r, err := ws.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			conn.fail(err)
			return
		}
		conn.rx.Add(1)
		w.cfg.Receive(buf.Bytes())
		if buf.Cap() > 4*int(w.cfg.ReadLimit) {
			buf = bytes.Buffer{}
		}
	}
}
