package executor_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
)

// streamPeer is a raw client of a StreamServer speaking frames by hand.
type streamPeer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialStream(t *testing.T, srv *executor.StreamServer) *streamPeer {
	t.Helper()
	addr := srv.Addr()
	nc, err := net.DialTimeout(addr.Network(), addr.String(), 10*time.Second)
	is.New(t).NoErr(err) // dial
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = nc.Close() })
	return &streamPeer{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func frame(msg string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	return append(b, msg...)
}

func (p *streamPeer) write(b []byte) {
	p.t.Helper()
	_, err := p.nc.Write(b)
	is.New(p.t).NoErr(err) // write
}

// read reads one frame and decodes it.
func (p *streamPeer) read() map[string]any {
	p.t.Helper()
	is := is.New(p.t)
	var hdr [4]byte
	_, err := io.ReadFull(p.br, hdr[:])
	is.NoErr(err) // frame header
	n := binary.BigEndian.Uint32(hdr[:])
	is.True(n > 0 && n <= executor.DefaultMaxMessageSize) // sane length
	b := make([]byte, n)
	_, err = io.ReadFull(p.br, b)
	is.NoErr(err) // frame body
	if cd, err := codec.Detect(b); err == nil && cd != codec.JSON {
		// A binary reply (to a binary request): its envelope as a map.
		var rsp pipeline.Response
		is.NoErr(cd.DecodeResponse(b, &rsp)) // binary response
		return map[string]any{"e": string(rsp.E), "edesc": rsp.EDesc, "rid": rsp.Rid}
	}
	var m map[string]any
	is.NoErr(json.Unmarshal(b, &m)) // response is JSON
	return m
}

func (p *streamPeer) call(msg string) map[string]any {
	p.t.Helper()
	p.write(frame(msg))
	return p.read()
}

// closed reports whether the server closes the connection (EOF or reset),
// reading past whatever it still sends first (e.g. the answer to a call
// cancelled by Close); a read timeout means it stayed open.
func (p *streamPeer) closed() bool {
	_, err := io.Copy(io.Discard, p.br)
	return err == nil || !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func startStream(t *testing.T, network string, opts ...executor.Option) (*executor.Executor, *executor.StreamServer) {
	t.Helper()
	is := is.New(t)
	ex := executor.New(opts...)
	is.NoErr(ex.Register("test.svc:1.10", testFuncs()))
	var srv *executor.StreamServer
	var err error
	if network == "unix" {
		srv, err = ex.ListenUnix(filepath.Join(t.TempDir(), "ex.sock"))
	} else {
		srv, err = ex.ListenTCP("")
	}
	is.NoErr(err) // listen
	t.Cleanup(func() { _ = ex.Close() })
	return ex, srv
}

func TestStreamCall(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			is := is.New(t)
			_, srv := startStream(t, network)
			is.True(strings.HasPrefix(srv.URL(), network+"://"))
			if network == "unix" {
				is.True(strings.HasPrefix(srv.URL(), "unix:///")) // absolute path
			}
			p := dialStream(t, srv)
			m := p.call(`{"f":"test.svc:1.10:echo","p":{"a":"b"},"rid":"C1","forcersp":true}`)
			is.Equal(m, map[string]any{"r": map[string]any{"a": "b"}, "rid": "C1"})
			m = p.call(`{"f":"test.nope:1.0:x","p":{},"rid":"C2"}`)
			is.Equal(m["e"], "UnknownInterface")
			is.Equal(m["rid"], "C2")
			m = p.call(`{"f":"test.svc:1.0:boom","p":{},"rid":"C3"}`)
			is.Equal(m, map[string]any{"e": "InternalError", "edesc": "internal error", "rid": "C3"})
			m = p.call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C4"}`)
			is.Equal(m["r"], 3.0) // the connection survived the panic

			// Two frames in one write, both answered.
			p.write(append(frame(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C5"}`), frame(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C6"}`)...))
			got := map[any]bool{p.read()["rid"]: true, p.read()["rid"]: true}
			is.Equal(got, map[any]bool{"C5": true, "C6": true})
		})
	}
}

// Calls on one connection run concurrently: a blocking call does not hold
// up a quick one behind it, which is answered first, each with its rid.
func TestStreamConcurrentCalls(t *testing.T) {
	is := is.New(t)
	_, srv := startStream(t, "tcp", executor.WithRequestTimeout(time.Minute))
	p := dialStream(t, srv)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	p.write(frame(`{"f":"test.svc:1.0:block","p":{},"rid":"C1"}`))
	m := p.call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C2"}`)
	is.Equal(m["rid"], "C2") // answered while C1 still runs
}

// Bad input on a stream: the framing rules of the sink package doc. A bad
// length closes the connection and is counted; a bad message in a good
// frame is answered like on WebSocket.
func TestStreamBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		bad   uint64 // counted in Stats.BadFrames
	}{
		{"oversized length", []byte{0x7f, 0xff, 0xff, 0xff, '{'}, 1},
		{"just over the limit", binary.BigEndian.AppendUint32(nil, executor.DefaultMaxMessageSize+1), 1},
		{"zero length", []byte{0, 0, 0, 0}, 1},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 1},
		{"eof in header", []byte{0, 0}, 0},
		{"eof in body", []byte{0, 0, 0, 10, '{', '"'}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			ex, srv := startStream(t, "tcp")
			p := dialStream(t, srv)
			p.write(tc.bytes)
			if tc.bad == 0 {
				_ = p.nc.(*net.TCPConn).CloseWrite() // EOF mid-frame
			}
			is.True(p.closed()) // the server closed the connection
			is.Equal(ex.Stats().BadFrames, tc.bad)
			// The server still serves others.
			is.Equal(dialStream(t, srv).call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)["r"], 3.0)
		})
	}
	t.Run("bad messages", func(t *testing.T) {
		_, srv := startStream(t, "unix")
		p := dialStream(t, srv)
		for _, tc := range []struct{ msg, rid, edesc string }{
			{"garbage", "", "malformed"},
			{`{"f":"test.svc:1.0:scalar","p":{}}`, "", "rid"},
			{`{"f":1,"p":{},"rid":"C9"}`, "C9", "malformed"},
			{"MPCK\x83\xa1f", "", "malformed"}, // answered in MessagePack
		} {
			is := is.New(t)
			m := p.call(tc.msg)
			is.Equal(m["e"], "InvalidRequest")
			is.True(strings.Contains(m["edesc"].(string), tc.edesc))
			if tc.rid != "" {
				is.Equal(m["rid"], tc.rid)
			}
		}
		is.New(t).Equal(p.call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)["r"], 3.0) // still open
	})
}

// "-internal" from a socket is refused with SecurityError on every
// transport; only in-process calls may use it.
func TestInternalRefusedFromSockets(t *testing.T) {
	is := is.New(t)
	ex, srv := startStream(t, "tcp")
	msg := `{"f":"test.svc:1.0:whoami","p":{},"rid":"C1","sec":"-internal"}`
	m := dialStream(t, srv).call(msg)
	is.Equal(m["e"], "SecurityError")
	is.Equal(m["rid"], "C1")
	hs := listen(t, ex)
	m = call(t, dial(t, hs.WSURL()), msg)
	is.Equal(m["e"], "SecurityError")
	is.Equal(post(t, hs.HTTPURL(), msg).Msg["e"], "SecurityError")

	// The same request in process runs as the internal user.
	var rsp pipeline.Response
	ex.ServeInternal(context.Background(), &pipeline.Request{F: "test.svc:1.0:whoami", P: map[string]any{}, Sec: "-internal"}, &rsp)
	is.Equal(rsp.E, pipeline.ErrorName(""))
	is.Equal(rsp.R.(map[string]any)["user"], executor.InternalUser)
}

// ServeInternal applies the checks a socket request gets.
func TestServeInternalChecks(t *testing.T) {
	ex := executor.New(executor.WithAuth(func(_ context.Context, u, p string) error {
		if u == "alice" && p == "pw" {
			return nil
		}
		return errors.New("no")
	}))
	defer ex.Close()
	is.New(t).NoErr(ex.Register("test.svc:1.10", testFuncs()))
	for _, tc := range []struct {
		f, sec string
		e      pipeline.ErrorName
	}{
		{"test.svc:1.0:whoami", "alice:bad", pipeline.SecurityError},
		{"test.svc:1.0:whoami", "-smac:x:HS256:AAAA", pipeline.SecurityError},
		{"test.svc:1.0", "-internal", pipeline.InvalidRequest},
		{"test.nope:1.0:x", "-internal", pipeline.UnknownInterface},
		{"test.svc:2.0:x", "-internal", pipeline.NotSupportedVersion},
		{"test.svc:1.0:nope", "-internal", pipeline.NotImplemented},
		{"test.svc:1.0:boom", "-internal", pipeline.InternalError},
		{"test.svc:1.0:plainErr", "-internal", pipeline.InternalError},
		{"test.svc:1.0:whoami", "alice:pw", ""},
		{"test.svc:1.0:nothing", "", ""},
	} {
		t.Run(tc.f+" "+tc.sec, func(t *testing.T) {
			is := is.New(t)
			var rsp pipeline.Response
			ex.ServeInternal(context.Background(), &pipeline.Request{F: tc.f, P: map[string]any{}, Sec: tc.sec}, &rsp)
			is.Equal(rsp.E, tc.e)
			is.True(!strings.Contains(rsp.EDesc, "password")) // no handler error text leaks
			if tc.e == "" {
				is.True(rsp.HasR)
				is.True(rsp.R != nil) // a nil result is an empty map
			}
		})
	}
}

// Close ends every stream connection and waits for their handlers; the
// socket file of a UNIX server is removed.
func TestStreamServerClose(t *testing.T) {
	is := is.New(t)
	ex, srv := startStream(t, "unix")
	path := strings.TrimPrefix(srv.URL(), "unix://")
	p := dialStream(t, srv)
	p.write(frame(`{"f":"test.svc:1.0:block","p":{},"rid":"C1"}`))
	is.Equal(p.call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C2"}`)["rid"], "C2") // connected and serving
	is.NoErr(srv.Close())
	is.True(p.closed())
	is.NoErr(srv.Close()) // idempotent
	_, err := net.Dial("unix", path)
	is.True(err != nil) // nobody listens any more
	_, err = ex.ListenTCP("")
	is.NoErr(err) // the Executor itself still works
	is.NoErr(ex.Close())
	_, err = ex.ListenTCP("")
	is.True(err != nil) // closed
}

// A Ping control frame is answered with a Pong at once, between messages
// or alone, and leaves the connection serving; an unknown control word is
// a bad frame.
func TestStreamPing(t *testing.T) {
	ping := binary.BigEndian.AppendUint32(nil, 0x80000001)
	pong := binary.BigEndian.AppendUint32(nil, 0x80000002)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			is := is.New(t)
			ex, srv := startStream(t, network)
			p := dialStream(t, srv)
			p.write(ping)
			var hdr [4]byte
			_, err := io.ReadFull(p.br, hdr[:])
			is.NoErr(err)
			is.Equal(hdr[:], pong) // answered

			p.write(pong) // a stray pong is ignored
			msg := frame(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)
			p.write(append(append(ping, msg...), ping...))
			pongs, rid := 0, ""
			for i := 0; i < 3; i++ { // two pongs and the result, in any order
				_, err = io.ReadFull(p.br, hdr[:])
				is.NoErr(err)
				if bytes.Equal(hdr[:], pong) {
					pongs++
					continue
				}
				body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0xffff)
				_, err = io.ReadFull(p.br, body)
				is.NoErr(err)
				is.True(strings.Contains(string(body), `"rid":"C1"`))
				rid = "C1"
			}
			is.Equal(pongs, 2)
			is.Equal(rid, "C1") // the call between the pings was served
			is.Equal(ex.Stats().BadFrames, uint64(0))

			p.write(binary.BigEndian.AppendUint32(nil, 0x80000003))
			is.True(p.closed()) // not a ping: over the limit, closed
			is.Equal(ex.Stats().BadFrames, uint64(1))
		})
	}
}
