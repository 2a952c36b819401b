package executor

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// batchMax is how many bytes a batch collects before it is written out
// anyway.
const batchMax = 64 << 10

// batchConn is the socket of a WebSocket connection as coder/websocket
// sees it. coder/websocket flushes every message to the socket, one write
// system call each; while the writer holds a batch (begin ... flush), the
// bytes are collected instead and flush writes them in one go. Outside a
// batch (control frames written by the read loop, the close handshake)
// writes go straight through. Order is kept: every write takes mu.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.hold {
		return b.Conn.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= batchMax {
		if err := b.writeOut(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.hold = true
	b.mu.Unlock()
}

func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	return b.writeOut()
}

func (b *batchConn) writeOut() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	if cap(b.buf) > 2*batchMax {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// batchWriter lets websocket.Accept hijack a batchConn instead of the bare
// socket. If the ResponseWriter cannot be hijacked it is passed on as is.
type batchWriter struct {
	http.ResponseWriter
	hj http.Hijacker
	bc *batchConn
}

func newBatchWriter(w http.ResponseWriter) http.ResponseWriter {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return w
	}
	return &batchWriter{ResponseWriter: w, hj: hj}
}

func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil { // the 101 response, if still buffered
		_ = conn.Close()
		return nil, nil, err
	}
	w.bc = &batchConn{Conn: conn}
	brw.Writer.Reset(w.bc)
	return w.bc, brw, nil
}

// batcher returns the batchConn that Accept hijacked, or nil.
func batcher(w http.ResponseWriter) *batchConn {
	if bw, ok := w.(*batchWriter); ok {
		return bw.bc
	}
	return nil
}
