package sink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
)

func frame(msg string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)
}

// ReadFrames: good frames, split at any byte, are delivered whole; a bad
// length stops reading before its body with a CommError; EOF mid-frame is
// io.ErrUnexpectedEOF; EOF between frames is io.EOF.
func TestReadFrames(t *testing.T) {
	good := append(frame(`{"a":1}`), frame(`{"b":22}`)...)
	for _, tc := range []struct {
		name  string
		input []byte
		want  []string
		err   error
		comm  bool
	}{
		{"two frames", good, []string{`{"a":1}`, `{"b":22}`}, io.EOF, false},
		{"empty input", nil, nil, io.EOF, false},
		{"eof in header", append(frame("x"), 0, 0), []string{"x"}, io.ErrUnexpectedEOF, false},
		{"eof in body", []byte{0, 0, 0, 9, '{'}, nil, io.ErrUnexpectedEOF, false},
		{"zero length", append(frame("x"), 0, 0, 0, 0, 'y'), []string{"x"}, nil, true},
		{"over the limit", append(frame("x"), 0, 0, 0, 17), []string{"x"}, nil, true},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				is := is.New(t)
				var r io.Reader = bytes.NewReader(tc.input)
				if split {
					r = iotest.OneByteReader(r) // partial frames at every byte
				}
				var got []string
				err := sink.ReadFrames(r, 16, func(b []byte) { got = append(got, string(b)) })
				is.Equal(got, tc.want)
				if tc.comm {
					is.True(errors.Is(err, pipeline.ErrCommError)) // bad length
				} else {
					is.True(errors.Is(err, tc.err)) // end of input
				}
			}
		})
	}
}

// A declared length is never trusted for allocation: a 16 MiB claim
// against a 64 KiB limit allocates nothing near it.
func TestReadFramesNoBlindAllocation(t *testing.T) {
	is := is.New(t)
	for _, in := range [][]byte{
		{0x01, 0, 0, 0},         // 16 MiB declared: refused
		{0, 0, 0xff, 0xff, '{'}, // 64 KiB - 1 declared, 1 byte sent
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 10; i++ {
			_ = sink.ReadFrames(bytes.NewReader(in), 64<<10, func([]byte) {})
		}
		runtime.ReadMemStats(&after)
		is.True(after.TotalAlloc-before.TotalAlloc < 10*(32<<10)) // never sized from the claim
	}
}

// frameServer accepts stream connections and runs serve on each; it can
// drop them all.
type frameServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	n     atomic.Int64
}

func newFrameServer(t *testing.T, network string, serve func(nc net.Conn)) *frameServer {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	return newFrameServerAt(t, network, addr, serve)
}

// newFrameServerAt is newFrameServer listening at addr.
func newFrameServerAt(t *testing.T, network, addr string, serve func(nc net.Conn)) *frameServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	is.New(t).NoErr(err)
	s := &frameServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.n.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer nc.Close(); serve(nc) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.cut(); s.wg.Wait() })
	return s
}

func (s *frameServer) cut() {
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// echoFrames answers every frame with "echo:" and its message.
func echoFrames(nc net.Conn) {
	_ = sink.ReadFrames(nc, 1<<20, func(b []byte) {
		_, _ = nc.Write(frame("echo:" + string(b)))
	})
}

func (s *frameServer) sink(network string) (*sink.Stream, chan string, chan error) {
	got := make(chan string, 16)
	lost := make(chan error, 4)
	st := sink.NewStream(sink.StreamConfig{
		Network: network,
		Address: s.ln.Addr().String(),
		Receive: func(b []byte) { got <- string(b) },
		Lost:    func(_ *pipeline.Carrier, err error) { lost <- err },
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	return st, got, lost
}

func mkCall(s string) *pipeline.Call {
	c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	c.Frame = []byte(s)
	return c
}

// Frames go out on one connection, answers come back through Receive, a
// lost connection is reported once as CommError and the next call dials
// again; the direct lane writes from the caller once a connection is open.
func TestStreamSendReceiveLose(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			is := is.New(t)
			srv := newFrameServer(t, network, echoFrames)
			st, got, lost := srv.sink(network)
			is.True(!st.TryDirect(mkCall("early"))) // no connection yet
			in, join := runStage(st)
			c1 := mkCall("one")
			in <- c1
			is.Equal(<-got, "echo:one")
			is.True(c1.Sent.Load())
			for _, s := range []string{"a", "b", "c"} {
				in <- mkCall(s) // may batch
			}
			is.Equal([]string{<-got, <-got, <-got}, []string{"echo:a", "echo:b", "echo:c"})
			c := mkCall("direct")
			taken := false
			for i := 0; i < 1000 && !taken; i++ {
				taken = st.TryDirect(c) // the worker may hold the lock a moment
			}
			if taken {
				is.Equal(<-got, "echo:direct")
			}
			is.Equal(srv.n.Load(), int64(1)) // one connection for everything

			srv.cut()
			is.True(errors.Is(<-lost, pipeline.ErrCommError))
			in <- mkCall("again")
			is.Equal(<-got, "echo:again") // dialled again
			is.Equal(srv.n.Load(), int64(2))
			join()
			is.True(errors.Is(<-lost, pipeline.ErrCommError)) // closing drops the connection
		})
	}
}

// What the peer sends wrong closes the connection: Lost gets a CommError
// (the mux fails the written calls with it) and nothing is delivered.
func TestStreamBadFramesFromPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		desc  string
	}{
		{"oversized", []byte{0x00, 0x10, 0x00, 0x01}, "limit"},
		{"zero length", []byte{0, 0, 0, 0}, "empty"},
		{"eof mid-frame", []byte{0, 0, 0, 50, '{', '"'}, "EOF"},
		{"garbage", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := newFrameServer(t, "tcp", func(nc net.Conn) {
				var hdr [4]byte
				_, _ = io.ReadFull(nc, hdr[:]) // one request header arrived
				_, _ = nc.Write(tc.reply)
				_ = nc.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, nc)
			})
			st, got, lost := srv.sink("tcp")
			in, join := runStage(st)
			defer join()
			c := mkCall(`{"f":"a.b:1.0:f"}`)
			in <- c
			err := <-lost
			is.True(errors.Is(err, pipeline.ErrCommError))
			is.True(strings.Contains(err.Error(), tc.desc)) // why
			is.Equal(len(got), 0)                           // nothing delivered
			is.True(c.Sent.Load())                          // so the mux fails it with CommError
		})
	}
}

// A dial failure fails everything queued with ConnectError at once.
func TestStreamDialFailure(t *testing.T) {
	is := is.New(t)
	st := sink.NewStream(sink.StreamConfig{
		Network: "unix",
		Address: filepath.Join(t.TempDir(), "nobody.sock"),
		Receive: func([]byte) {},
		Lost:    func(*pipeline.Carrier, error) { t.Error("no connection was up") },
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	in, join := runStage(st)
	calls := []*pipeline.Call{mkCall("a"), mkCall("b"), mkCall("c")}
	for _, c := range calls {
		in <- c
	}
	for _, c := range calls {
		_, err := c.Wait()
		is.True(errors.Is(err, pipeline.ErrConnectError))
		is.True(!c.Sent.Load())
	}
	join()
}
