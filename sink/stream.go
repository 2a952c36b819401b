package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/ftnpipe/ccm/internal/sockio"
	"github.com/ftnpipe/ccm/pipeline"
)

// FrameHeaderSize is the size of a stream frame's length prefix (see the
// package doc).
const FrameHeaderSize = 4

// pingWord is the Ping control frame.
var pingWord = binary.BigEndian.AppendUint32(nil, sockio.Ping)

// StreamConfig configures a [Stream] sink.
type StreamConfig struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is "host:port" for tcp, the socket's path for unix.
	Address string
	// DialTimeout bounds connecting (default 10 s).
	DialTimeout time.Duration
	// ReadLimit is the largest message accepted (default 64 KiB). A frame
	// that declares more, or 0 bytes, closes the connection, failing its
	// pending calls with CommError; its body is never read.
	ReadLimit int
	// MaxBatch is the most queued frames written in one go (default 64).
	MaxBatch int
	// Healing: how many connections, heartbeat, reconnect backoff. The
	// heartbeat pings with the Ping control frame (package doc).
	Healing

	// Receive, Lost, Fail and OnState are as in [WSConfig].
	Receive func(frame []byte)
	Lost    func(k *pipeline.Carrier, err error)
	Fail    func(c *pipeline.Call, err error)
	OnState func(ConnState)
}

// Stream is the transmit stage for tcp:// and unix:// endpoints:
// persistent stream connections (one unless [Healing].Conns says more)
// carrying length-prefixed frames (package doc), multiplexed by rid
// exactly like [WebSocket], with the same workers, batching, direct lane,
// reconnect, error rules and Close behaviour; only the dial, the framing
// and the heartbeat's ping (a Ping control frame) differ. Run one worker;
// its goroutines are joined before Run returns.
type Stream struct {
	persistent
	cfg StreamConfig
}

// NewStream returns the stage for cfg.
func NewStream(cfg StreamConfig) *Stream {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 65536
	}
	s := &Stream{cfg: cfg}
	s.init(cfg.Network+"://"+cfg.Address, cfg.MaxBatch, cfg.Healing, cfg.Lost, cfg.Fail, cfg.OnState)
	s.persistent.dial = s.dial
	return s
}

func (s *Stream) dial(ctx context.Context) (*link, error) {
	d := net.Dialer{Timeout: s.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	cork := &corkConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok && sockio.CanTryWrite {
		cork.raw, _ = sc.SyscallConn()
	}
	conn := newLink(cork)
	var hdr [FrameHeaderSize]byte // written under the endpoint's write lock only
	conn.send = func(frame []byte) error {
		binary.BigEndian.PutUint32(hdr[:], uint32(len(frame)))
		if _, err := cork.Write(hdr[:]); err != nil {
			return err
		}
		_, err := cork.Write(frame)
		return err
	}
	conn.sendPing = func() error {
		_, err := cork.Write(pingWord[:])
		return err
	}
	conn.closeNow = func() { _ = nc.Close() }
	conn.closeOnEnd(ctx)
	go s.read(nc, conn)
	return conn, nil
}

// read is the connection's reader: it hands each frame's message to
// Receive and fails conn when the connection fails or a frame is bad.
func (s *Stream) read(nc net.Conn, conn *link) {
	defer close(conn.joined)
	err := readFrames(nc, s.cfg.ReadLimit, func(msg []byte) {
		conn.rx.Add(1)
		s.cfg.Receive(msg)
	}, func(word uint32) {
		if word == sockio.Pong {
			conn.rx.Add(1)
		}
	})
	conn.fail(err)
}

// ReadFrames reads length-prefixed frames (package doc) from r until it
// fails, handing each message to receive (the slice is reused after
// receive returns). It never returns nil: io.EOF at a frame boundary,
// io.ErrUnexpectedEOF in the middle of one, a *pipeline.Error
// (CommError) for a declared length of 0 or over limit, or r's error. The
// body of a frame is read into a buffer that grows with the bytes that
// arrive, never sized from the declared length alone, and a bad length is
// refused before any of its body is read.
//
// The Ping and Pong control frames are consumed and never reach receive;
// any other control word is a bad frame.
func ReadFrames(r io.Reader, limit int, receive func(msg []byte)) error {
	return readFrames(r, limit, receive, nil)
}

// readFrames is ReadFrames that also tells control, when not nil, of
// every Ping or Pong control frame.
func readFrames(r io.Reader, limit int, receive func(msg []byte), control func(word uint32)) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var hdr [FrameHeaderSize]byte
	var buf bytes.Buffer
	lr := io.LimitedReader{R: br}
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == sockio.Ping || n == sockio.Pong {
			if control != nil {
				control(n)
			}
			continue
		}
		if n == 0 || uint64(n) > uint64(limit) {
			return pipeline.NewError(pipeline.CommError, badFrame(n, limit))
		}
		buf.Reset()
		lr.N = int64(n)
		if _, err := buf.ReadFrom(&lr); err != nil {
			return err
		}
		if buf.Len() != int(n) {
			return io.ErrUnexpectedEOF
		}
		receive(buf.Bytes())
		if buf.Cap() > 4*limit {
			buf = bytes.Buffer{}
		}
	}
}

func badFrame(n uint32, limit int) string {
	if n == 0 {
		return "bad frame: empty message"
	}
	return fmt.Sprintf("bad frame: %d bytes declared, the limit is %d", n, limit)
}
