package executor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ftnpipe/ccm/internal/sockio"
)

// StreamServer is an Executor listening on a TCP or UNIX stream socket,
// made by [Executor.ListenTCP] or [Executor.ListenUnix]. Each connection
// is a persistent, multiplexed FutoIn channel carrying length-prefixed
// frames (the frame is defined in the sink package doc: a 4-byte
// big-endian length, then the coded message). It serves requests exactly
// as a WebSocket connection does: the same checks, limits and errors,
// calls of one connection run concurrently and are answered with their
// rid as they complete.
//
// A Ping control frame is answered with a Pong, so that the invoker's
// heartbeat can tell a live connection from a dead one. A frame whose
// declared length is 0 or over the message limit closes its connection
// without reading or allocating its body; it is counted in
// [Stats].BadFrames. Calls still running on that connection get their
// context cancelled and no answer. Its methods are safe for concurrent
// use.
type StreamServer struct {
	e       *Executor
	ln      net.Listener
	network string // "tcp" or "unix"
	sc      *scope
	done    chan struct{} // closed when the accept loop returned
	closing chan struct{} // closed when Close starts: ends a backoff wait

	closeOnce sync.Once
	closeErr  error
}

// ListenTCP starts serving the Executor on a TCP socket at addr
// ("host:port"; "" means "127.0.0.1:0") and returns once it listens. Its
// endpoint URL is "tcp://host:port" ([StreamServer.URL]). The caller
// closes it with [StreamServer.Close] (or [Executor.Close]).
func (e *Executor) ListenTCP(addr string) (*StreamServer, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return e.listenStream("tcp", addr)
}

// ListenUnix starts serving the Executor on a UNIX stream socket at path,
// which must not exist yet; Close removes it. Its endpoint URL is
// "unix://" followed by the absolute path ([StreamServer.URL]).
func (e *Executor) ListenUnix(path string) (*StreamServer, error) {
	return e.listenStream("unix", path)
}

func (e *Executor) listenStream(network, addr string) (*StreamServer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	s := &StreamServer{e: e, ln: ln, network: network, sc: newScope(e), done: make(chan struct{}), closing: make(chan struct{})}
	e.servers[s] = struct{}{}
	go s.accept()
	return s, nil
}

// Addr returns the address the StreamServer listens on.
func (s *StreamServer) Addr() net.Addr { return s.ln.Addr() }

// URL returns the endpoint URL: "tcp://host:port" or "unix:///abs/path".
func (s *StreamServer) URL() string {
	if s.network == "unix" {
		return "unix://" + s.ln.Addr().String()
	}
	return "tcp://" + s.ln.Addr().String()
}

// Close stops accepting, closes every connection (calls in flight on them
// get no answer; their handlers' contexts are cancelled) and waits for
// every goroutine of this StreamServer, handlers included. It is
// idempotent; later and concurrent calls wait for the first and return its
// result.
func (s *StreamServer) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.closeErr = s.ln.Close()
		if errors.Is(s.closeErr, net.ErrClosed) {
			s.closeErr = nil
		}
		<-s.done
		s.sc.close()
		s.e.mu.Lock()
		delete(s.e.servers, s)
		s.e.mu.Unlock()
	})
	return s.closeErr
}

// accept serves connections until the listener is closed. A passing
// failure (out of file descriptors or buffers, an aborted connection)
// does not stop it: it waits, 5 ms doubling up to 1 s, and tries again, as
// net/http's server does; a server that stopped accepting for good while
// still listening would leave clients connected to nobody.
func (s *StreamServer) accept() {
	defer close(s.done)
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !passing(err) {
				return // closed, or a listener that cannot go on
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.closing:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		if !s.sc.enter() {
			_ = nc.Close()
			return
		}
		go func() {
			defer s.sc.wg.Done()
			s.sc.serveStream(nc)
		}()
	}
}

// passing reports whether an Accept error is worth waiting out.
func passing(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Temporary() || errno == syscall.ENOBUFS || errno == syscall.ENOMEM
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// serveStream runs one accepted stream connection until it ends.
func (s *scope) serveStream(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if !s.addConn(nc, func() { _ = nc.Close() }) {
		_ = nc.Close()
		return
	}
	defer s.removeConn(nc)
	bc := newBatchConn(nc)
	l := &streamLink{bc: bc, br: bufio.NewReaderSize(bc, 16<<10)}
	ch := chTCP
	if _, ok := nc.(*net.UnixConn); ok {
		ch = chUnix
	}
	newMuxConn(s, l, bc, ch).run()
}

// streamLink is the muxLink of a TCP or UNIX stream connection.
type streamLink struct {
	bc  *batchConn
	br  *bufio.Reader // reads through bc, so held responses go out first
	hdr [4]byte
	lr  io.LimitedReader
}

// next reads one frame. A declared length of 0 or over the limit ends the
// connection (counted), as does EOF or an error mid-frame. The body is
// read into a pooled buffer that grows with the bytes that arrive, never
// from the declared length alone.
//
// Control words (sink package doc) are handled here and never reach the
// connection: a Ping is answered with a Pong at once (the answer never
// waits for the socket, see batchConn), a Pong is ignored, any other
// control word counts as a bad frame.
func (l *streamLink) next(c *muxConn) *[]byte {
	var n uint32
	for {
		if _, err := io.ReadFull(l.br, l.hdr[:]); err != nil {
			return nil
		}
		n = binary.BigEndian.Uint32(l.hdr[:])
		if n == sockio.Ping {
			if l.bc.writeParts(pongWord[:], nil) != nil {
				return nil
			}
			continue
		}
		if n != sockio.Pong {
			break
		}
	}
	if n == 0 || uint64(n) > uint64(c.e.maxSize) {
		c.e.badFrames.Add(1)
		return nil
	}
	b := getBuf()
	l.lr = io.LimitedReader{R: l.br, N: int64(n)}
	buf, _, err := readMessage(&l.lr, (*b)[:0], int(n))
	*b = buf
	if err != nil || len(buf) != int(n) {
		putBuf(b) // EOF or failure mid-frame
		return nil
	}
	return b
}

// pongWord is the frame that answers a Ping.
var pongWord = binary.BigEndian.AppendUint32(nil, sockio.Pong)

func (l *streamLink) send(b []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	return l.bc.writeParts(hdr[:], b)
}

func (l *streamLink) closeNow() { _ = l.bc.Close() }
