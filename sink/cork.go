package sink

import (
	"net"
	"sync"
	"syscall"

	"github.com/ftnpipe/ccm/internal/sockio"
)

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
