package executor

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/ftnpipe/ccm/internal/sockio"
)

// batchMax is how many bytes are collected before they are written out
// even while the read loop holds them back.
const batchMax = 64 << 10

// errWouldBlock: the socket cannot take more bytes without waiting.
var errWouldBlock = errors.New("executor: write would block")

// batchConn is the socket of a WebSocket connection as coder/websocket
// sees it, and of a TCP or UNIX stream connection (stream.go). coder/websocket flushes every message to the socket; batchConn
// instead collects what is written and never makes the writer wait:
//
//   - While the connection's reader works through input it has already
//     received (from the return of one socket read to the start of the
//     next), everything written is held; the reader writes it all out
//     with one system call just before it reads the socket again. A burst
//     of requests read in one go is thus answered with one write.
//   - Otherwise the first writer to find the socket idle writes what is
//     collected itself, with a non-blocking system call; writers arriving
//     meanwhile only append.
//   - When the socket is full (the peer does not read fast enough), a
//     writer goroutine is started that waits on the socket, up to
//     wsWriteTimeout per write before it closes the connection; it takes
//     whatever is collected meanwhile and ends once all is written.
//
// Order is kept: bytes go out in the order of the Write calls. After a
// failed write, the socket is closed and every later Write fails.
type batchConn struct {
	net.Conn
	raw syscall.RawConn // nil: no non-blocking writes; the writer goroutine does them all

	mu      sync.Mutex
	buf     []byte        // collected bytes, not yet handed to a write
	spare   []byte        // a free buffer for buf
	hold    bool          // the reader is working through received input
	writing bool          // someone owns the socket's write side
	noSpawn bool          // drain has run: no more writer goroutines
	err     error         // first write failure
	wdone   chan struct{} // closed when the current writer goroutine ends

	// Owned by whoever holds writing: the non-blocking write's arguments
	// and results, so that raw.Write needs no closure per call.
	rawFn  func(fd uintptr) bool
	rawP   []byte
	rawN   int
	rawErr error
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok && sockio.CanTryWrite {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
			b.rawFn = func(fd uintptr) bool {
				b.rawN, b.rawErr = sockio.TryWriteFD(fd, b.rawP)
				return true
			}
		}
	}
	return b
}

// Write collects p; it never waits for the socket.
func (b *batchConn) Write(p []byte) (int, error) {
	if err := b.writeParts(p, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeParts collects p then q as one piece: no other writer's bytes come
// between them (a stream frame's header and message). It never waits for
// the socket.
func (b *batchConn) writeParts(p, q []byte) error {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	b.buf = append(b.buf, p...)
	b.buf = append(b.buf, q...)
	if b.writing || b.hold && len(b.buf) < batchMax {
		b.mu.Unlock()
		return nil
	}
	b.writing = true
	b.mu.Unlock()
	b.push()
	return nil
}

// Read is the reader's socket read: it first writes out what was held.
func (b *batchConn) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.hold = false
	if !b.writing && len(b.buf) > 0 && b.err == nil {
		b.writing = true
		b.mu.Unlock()
		b.push()
	} else {
		b.mu.Unlock()
	}
	n, err := b.Conn.Read(p)
	if n > 0 && err == nil {
		b.mu.Lock()
		b.hold = true
		b.mu.Unlock()
	}
	return n, err
}

// Close makes a last non-blocking attempt to send what is collected (the
// close frame coder/websocket writes just before it closes the socket),
// then closes the socket.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if !b.writing && len(b.buf) > 0 && b.err == nil && b.raw != nil {
		b.writing = true
		out := b.buf
		b.buf = nil
		b.mu.Unlock()
		_, _ = b.tryWrite(out)
		b.mu.Lock()
		b.writing = false
	}
	b.buf = nil
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.mu.Unlock()
	return b.Conn.Close()
}

// push writes out what is collected without waiting; the caller has set
// writing. It gives writing up when nothing is left, or hands it to a new
// writer goroutine when the socket is full.
func (b *batchConn) push() {
	for {
		b.mu.Lock()
		if len(b.buf) == 0 || b.err != nil {
			b.writing = false
			b.mu.Unlock()
			return
		}
		out := b.buf
		b.buf, b.spare = b.spare[:0], nil
		b.mu.Unlock()

		n, err := b.tryWrite(out)
		switch {
		case err == nil:
			b.mu.Lock()
			b.recycle(out)
			b.mu.Unlock()
		case err == errWouldBlock:
			b.mu.Lock()
			if b.noSpawn {
				b.failLocked(net.ErrClosed)
				b.mu.Unlock()
				_ = b.Conn.Close()
				return
			}
			done := make(chan struct{})
			b.wdone = done
			b.mu.Unlock()
			go b.writeLoop(out, out[n:], done)
			return
		default:
			b.mu.Lock()
			b.failLocked(err)
			b.mu.Unlock()
			_ = b.Conn.Close()
			return
		}
	}
}

// tryWrite writes p with non-blocking system calls. It returns
// errWouldBlock, with the count written so far, when the socket is full.
func (b *batchConn) tryWrite(p []byte) (int, error) {
	if b.raw == nil {
		return 0, errWouldBlock
	}
	total := 0
	for total < len(p) {
		b.rawP = p[total:]
		if err := b.raw.Write(b.rawFn); err != nil {
			b.rawP = nil
			return total, err
		}
		n, err := b.rawN, b.rawErr
		b.rawP = nil
		if n > 0 {
			total += n
		}
		if err != nil {
			return total, err
		}
		if n <= 0 {
			return total, errWouldBlock
		}
	}
	return total, nil
}

// writeLoop owns the socket's write side while the socket is full: it
// writes rest (the unsent tail of buf), then whatever is collected
// meanwhile, waiting on the socket, until nothing is left.
func (b *batchConn) writeLoop(buf, rest []byte, done chan struct{}) {
	watchdog := time.AfterFunc(wsWriteTimeout, func() { _ = b.Conn.Close() })
	defer watchdog.Stop()
	for {
		_, err := b.Conn.Write(rest)
		b.mu.Lock()
		if err != nil {
			b.failLocked(err)
			close(done)
			b.mu.Unlock()
			_ = b.Conn.Close()
			return
		}
		b.recycle(buf)
		if len(b.buf) == 0 || b.err != nil {
			b.writing = false
			close(done) // under mu: drain sees either this goroutine or none
			b.mu.Unlock()
			return
		}
		buf = b.buf
		b.buf = nil
		b.mu.Unlock()
		rest = buf
		watchdog.Reset(wsWriteTimeout)
	}
}

// recycle keeps out as the spare buffer unless it grew too big. mu held.
func (b *batchConn) recycle(out []byte) {
	if cap(out) <= 2*batchMax {
		b.spare = out[:0]
	}
}

// failLocked records a write failure: what is collected is dropped and
// later writes fail. mu held; the caller then closes the socket (outside
// mu) so that the reader sees the failure too.
func (b *batchConn) failLocked(err error) {
	if b.err == nil {
		b.err = err
	}
	b.buf, b.spare = nil, nil
	b.writing = false
}

// drain is called once nothing but coder/websocket's close handshake can
// write any more: it writes out what is collected and waits for the
// writer goroutine, if any; no new writer goroutine starts afterwards.
func (b *batchConn) drain() {
	b.mu.Lock()
	b.hold = false
	if !b.writing && len(b.buf) > 0 && b.err == nil {
		b.writing = true
		b.mu.Unlock()
		b.push()
		b.mu.Lock()
	}
	b.noSpawn = true
	done := b.wdone
	b.mu.Unlock()
	if done != nil {
		<-done
	}
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
	w.bc = newBatchConn(conn)
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
