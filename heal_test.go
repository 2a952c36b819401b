package ccm_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// healProxy is a TCP relay between the CCM and a server: it counts the
// connections it carries, can count the stream frames each carries towards
// the server, can cut one connection, and can turn into a black hole that
// keeps every connection open but passes nothing on (a hung peer, or a
// network path that died without a reset).
type healProxy struct {
	ln     net.Listener
	target string
	frames bool // count stream frames client → server
	dead   atomic.Bool

	mu    sync.Mutex
	conns []*relayed
	wg    sync.WaitGroup
}

type relayed struct {
	client, server net.Conn
	frames         atomic.Int64
	controls       atomic.Int64 // Ping frames
}

func newHealProxy(t *testing.T, target string, frames bool) *healProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &healProxy{ln: ln, target: target, frames: frames}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, r := range p.conns {
			r.client.Close()
			r.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *healProxy) accept() {
	defer p.wg.Done()
	for {
		cl, err := p.ln.Accept()
		if err != nil {
			return
		}
		srv, err := net.Dial("tcp", p.target)
		if err != nil {
			cl.Close()
			continue
		}
		r := &relayed{client: cl, server: srv}
		p.mu.Lock()
		p.conns = append(p.conns, r)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer srv.Close()
			if p.frames {
				p.relayFrames(srv, cl, r)
			} else {
				p.relay(srv, cl)
			}
		}()
		go func() { defer p.wg.Done(); defer cl.Close(); p.relay(cl, srv) }()
	}
}

// relay copies src to dst while the proxy is not a black hole.
func (p *healProxy) relay(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// relayFrames is relay for stream frames, counting the messages and the
// control frames of r.
func (p *healProxy) relayFrames(dst, src net.Conn, r *relayed) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		out := hdr[:]
		if n := binary.BigEndian.Uint32(hdr[:]); n&(1<<31) != 0 {
			r.controls.Add(1)
		} else {
			msg := make([]byte, 4+n)
			copy(msg, hdr[:])
			if _, err := io.ReadFull(src, msg[4:]); err != nil {
				return
			}
			r.frames.Add(1)
			out = msg
		}
		if !p.dead.Load() {
			if _, err := dst.Write(out); err != nil {
				return
			}
		}
	}
}

func (p *healProxy) addr() string { return p.ln.Addr().String() }

// frameCounts returns how many messages each connection carried to the
// server, in accept order.
func (p *healProxy) frameCounts() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n []int64
	for _, r := range p.conns {
		n = append(n, r.frames.Load())
	}
	return n
}

func (p *healProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// cut closes the i-th connection (in accept order) on both sides.
func (p *healProxy) cut(i int) {
	p.mu.Lock()
	r := p.conns[i]
	p.mu.Unlock()
	r.client.Close()
	r.server.Close()
}

// connEvents subscribes to c and passes on its connect and disconnect
// events.
func connEvents(c *ccm.CCM) chan ccm.Event {
	ch := make(chan ccm.Event, 64)
	c.Subscribe(func(ev ccm.Event) {
		switch ev.Kind {
		case ccm.EventConnect, ccm.EventDisconnect, ccm.EventUnregister:
			ch <- ev
		}
	})
	return ch
}

// restartable is a server of one scheme that can be stopped and started
// again on the same address.
type restartable struct {
	t     *testing.T
	ex    *executor.Executor
	kind  string
	addr  string
	url   string
	close func() error
}

func (r *restartable) start() {
	r.t.Helper()
	var err error
	switch r.kind {
	case "ws":
		var s *executor.Server
		s, err = r.ex.Listen(r.addr)
		if err == nil {
			r.addr, r.url, r.close = s.Addr().String(), s.WSURL(), s.Close
		}
	case "tcp":
		var s *executor.StreamServer
		s, err = r.ex.ListenTCP(r.addr)
		if err == nil {
			r.addr, r.url, r.close = s.Addr().String(), s.URL(), s.Close
		}
	case "unix":
		var s *executor.StreamServer
		s, err = r.ex.ListenUnix(r.addr)
		if err == nil {
			r.url, r.close = s.URL(), s.Close
		}
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = r.close() })
}

// An endpoint heals after its server restarts on the same address: the
// loss is reported (disconnect, with a CommError), a call while the server
// is down fails with ConnectError, a call made while the endpoint waits
// for its next attempt to connect waits and succeeds once the server is
// back, and the events come in order: connect, disconnect, connect, then
// at Unregister disconnect and unregister.
func TestReconnectAfterServerRestart(t *testing.T) {
	s := newService(t)
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ws", "tcp", "unix"} {
		t.Run(kind, func(t *testing.T) {
			is := is.New(t)
			srv := &restartable{t: t, ex: s.ex, kind: kind, addr: "127.0.0.1:0"}
			if kind == "unix" {
				srv.addr = filepath.Join(dir, "restart.sock")
			}
			srv.start()
			c := ccm.New(ccm.Reconnect(time.Second, time.Second), ccm.RetryCount(1))
			defer c.Close()
			events := connEvents(c)
			it := register(t, c, srv.url)
			msg := map[string]any{"msg": "x"}

			_, err := it.Call(bg, "echo", msg)
			is.NoErr(err) // connected
			up := <-events
			is.Equal(up.Kind, ccm.EventConnect)
			is.Equal(up.Name, "svc")
			is.Equal(up.IfaceVer, "test.svc:1.0")

			is.NoErr(srv.close())
			down := <-events // noticed without a call
			is.Equal(down.Kind, ccm.EventDisconnect)
			is.True(errors.Is(down.Err, ccm.ErrCommError))

			_, err = it.Call(bg, "echo", msg)
			is.True(errors.Is(err, ccm.ErrConnectError)) // down: both attempts failed to connect

			done := make(chan error, 1)
			go func() { _, err := it.Call(bg, "echo", msg); done <- err }()
			srv.start() // while that call waits for the next attempt
			is.NoErr(<-done)
			is.Equal((<-events).Kind, ccm.EventConnect) // healed

			is.NoErr(c.Unregister("svc"))
			closed := <-events
			is.Equal(closed.Kind, ccm.EventDisconnect)
			is.True(strings.Contains(closed.Err.Error(), "endpoint closed"))
			is.Equal((<-events).Kind, ccm.EventUnregister)
			is.Equal(len(events), 0) // nothing else
		})
	}
}

// A peer that stops answering (its network path turns into a black hole
// with the connection still open) is found by the heartbeat: a call in
// flight fails with CommError long before its timeout, and the disconnect
// event says why.
func TestHeartbeatDetectsHungPeer(t *testing.T) {
	s := newService(t)
	urls := streamURLs(t, s)
	for _, kind := range []string{"ws", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			is := is.New(t)
			target := strings.TrimSuffix(strings.TrimPrefix(s.srv.WSURL(), "ws://"), "/")
			if kind == "tcp" {
				target = strings.TrimPrefix(urls["tcp"], "tcp://")
			}
			p := newHealProxy(t, target, false)
			c := ccm.New(ccm.Heartbeat(50*time.Millisecond), ccm.CallTimeout(time.Minute), ccm.RetryCount(0))
			defer c.Close()
			events := connEvents(c)
			it := register(t, c, kind+"://"+p.addr()+map[string]string{"ws": "/", "tcp": ""}[kind])
			_, err := it.Call(bg, "echo", map[string]any{"msg": "x"})
			is.NoErr(err)
			is.Equal((<-events).Kind, ccm.EventConnect)

			p.dead.Store(true)
			_, err = it.Call(bg, "echo", map[string]any{"msg": "y"})
			is.True(errors.Is(err, ccm.ErrCommError)) // not Timeout: the heartbeat gave up on the peer
			down := <-events
			is.Equal(down.Kind, ccm.EventDisconnect)
			is.True(strings.Contains(down.Err.Error(), "heartbeat"))
		})
	}
}

// The executor answers the heartbeat (WebSocket pongs, stream Pong
// frames): an idle connection pinged many times stays up.
func TestHeartbeatKeepsExecutorConnection(t *testing.T) {
	s := newService(t)
	urls := streamURLs(t, s)
	for _, kind := range []string{"ws", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			is := is.New(t)
			target := strings.TrimSuffix(strings.TrimPrefix(s.srv.WSURL(), "ws://"), "/")
			if kind == "tcp" {
				target = strings.TrimPrefix(urls["tcp"], "tcp://")
			}
			p := newHealProxy(t, target, kind == "tcp")
			c := ccm.New(ccm.Heartbeat(25*time.Millisecond), ccm.RetryCount(0))
			defer c.Close()
			events := connEvents(c)
			it := register(t, c, kind+"://"+p.addr()+map[string]string{"ws": "/", "tcp": ""}[kind])
			_, err := it.Call(bg, "echo", map[string]any{"msg": "x"})
			is.NoErr(err)
			time.Sleep(400 * time.Millisecond) // 16 heartbeat intervals, idle
			_, err = it.Call(bg, "echo", map[string]any{"msg": "y"})
			is.NoErr(err)
			is.Equal(p.count(), 1) // the same connection throughout
			if kind == "tcp" {
				p.mu.Lock()
				pings := p.conns[0].controls.Load()
				p.mu.Unlock()
				is.True(pings >= 5) // it was pinged, and answered
			}
			is.Equal(len(events), 1)
			is.Equal((<-events).Kind, ccm.EventConnect) // and no disconnect
		})
	}
}

// With Conns(4) the connections are all used and share the load: eight
// calls made one after another while the earlier ones still run go two to
// each connection. Cutting one connection fails exactly its two calls
// with CommError; the other six complete.
func TestConnsSpreadLoad(t *testing.T) {
	for _, kind := range []string{"ws", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			is := is.New(t)
			s := newService(t)
			target := strings.TrimSuffix(strings.TrimPrefix(s.srv.WSURL(), "ws://"), "/")
			if kind == "tcp" {
				target = strings.TrimPrefix(streamURLs(t, s)["tcp"], "tcp://")
			}
			p := newHealProxy(t, target, kind == "tcp")
			c := ccm.New(ccm.Conns(4), ccm.Heartbeat(0), ccm.RetryCount(0), ccm.CallTimeout(time.Minute))
			defer c.Close()
			events := connEvents(c)
			it := register(t, c, kind+"://"+p.addr()+map[string]string{"ws": "/", "tcp": ""}[kind])

			errs := make([]chan error, 8)
			for i := range errs {
				errs[i] = make(chan error, 1)
				go func() { _, err := it.Call(bg, "wait", nil); errs[i] <- err }()
				<-s.arrived // in flight before the next one starts
			}
			is.Equal(p.count(), 4) // four connections, opened as the load grew
			if kind == "tcp" {
				is.Equal(p.frameCounts(), []int64{2, 2, 2, 2}) // two calls each
			}
			p.cut(1) // calls 1 and 5 went to the second connection
			for _, i := range []int{1, 5} {
				is.True(errors.Is(<-errs[i], ccm.ErrCommError)) // lost with their connection
			}
			s.releaseAll()
			for _, i := range []int{0, 2, 3, 4, 6, 7} {
				is.NoErr(<-errs[i]) // the other connections carried on
			}
			seen := map[int][]ccm.EventKind{}
			c.Close()
			close(events)
			for ev := range events {
				seen[ev.Conn] = append(seen[ev.Conn], ev.Kind)
			}
			is.Equal(seen[1][:2], []ccm.EventKind{ccm.EventConnect, ccm.EventDisconnect})
			for i := 0; i < 4; i++ {
				is.Equal(seen[i][0], ccm.EventConnect) // each connection reported
			}
		})
	}
}

// DialTimeout bounds the WebSocket handshake too: a server that accepts
// the TCP connection and never answers fails the call with ConnectError
// at the dial timeout, not with Timeout at the call's.
func TestDialTimeoutCoversHandshake(t *testing.T) {
	is := is.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	var wg sync.WaitGroup
	var held []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, nc) // never answers
		}
	}()
	defer func() {
		ln.Close()
		wg.Wait()
		for _, nc := range held {
			nc.Close()
		}
	}()
	c := ccm.New(ccm.DialTimeout(100*time.Millisecond), ccm.CallTimeout(time.Minute), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, "ws://"+ln.Addr().String()+"/")
	_, err = it.Call(bg, "echo", nil)
	is.True(errors.Is(err, ccm.ErrConnectError)) // the handshake timed out: nothing was sent
}
