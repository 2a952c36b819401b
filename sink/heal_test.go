package sink_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/internal/sockio"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
)

// states records what OnState reports.
type states struct {
	mu  sync.Mutex
	got []sink.ConnState
	ch  chan sink.ConnState
}

func newStates() *states { return &states{ch: make(chan sink.ConnState, 64)} }

func (s *states) on(st sink.ConnState) {
	s.mu.Lock()
	s.got = append(s.got, st)
	s.mu.Unlock()
	s.ch <- st
}

// eventually polls cond until it holds or 10 s pass (a hang detector, not
// a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// silentWS accepts WebSocket connections and reads them, but answers
// neither messages nor pings (answer false) or answers pings only.
func silentWS(t *testing.T, answerPings bool, pings *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			OnPingReceived: func(context.Context, []byte) bool {
				pings.Add(1)
				return answerPings
			},
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// A WebSocket peer that stops answering pings is noticed by the heartbeat:
// the connection is reported lost with a CommError that says so, and
// OnState reports it up, then down with the same cause.
func TestWebSocketHeartbeatDropsSilentPeer(t *testing.T) {
	is := is.New(t)
	var pings atomic.Int64
	url := silentWS(t, false, &pings)
	st := newStates()
	lost := make(chan error, 4)
	var carrier atomic.Pointer[pipeline.Carrier]
	ws := sink.NewWebSocket(sink.WSConfig{
		URL:     url,
		Healing: sink.Healing{Heartbeat: 20 * time.Millisecond},
		Receive: func([]byte) {},
		Lost: func(k *pipeline.Carrier, err error) {
			carrier.Store(k)
			lost <- err
		},
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
		OnState: st.on,
	})
	in, join := runStage(ws)
	defer join()
	c := mkCall(`{"f":"a.b:1.0:f"}`)
	in <- c // written, never answered
	err := <-lost
	is.True(errors.Is(err, pipeline.ErrCommError))      // lost, so the mux fails the call with CommError
	is.True(strings.Contains(err.Error(), "heartbeat")) // and why
	is.True(pings.Load() >= 1)                          // the peer was pinged
	is.True(carrier.Load() == c.Via())                  // the call was on the lost connection
	is.Equal(<-st.ch, sink.ConnState{Conn: 0, Up: true})
	down := <-st.ch
	is.True(!down.Up)
	is.Equal(down.Err, err) // the same cause
}

// A live but idle WebSocket connection is pinged and kept.
func TestWebSocketHeartbeatKeepsLivePeer(t *testing.T) {
	is := is.New(t)
	var pings atomic.Int64
	url := silentWS(t, true, &pings)
	lost := make(chan error, 4)
	ws := sink.NewWebSocket(sink.WSConfig{
		URL:     url,
		Healing: sink.Healing{Heartbeat: 25 * time.Millisecond},
		Receive: func([]byte) {},
		Lost:    func(_ *pipeline.Carrier, err error) { lost <- err },
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	in, join := runStage(ws)
	in <- mkCall(`{}`) // opens the connection
	eventually(t, "five pings answered", func() bool { return pings.Load() >= 5 })
	is.Equal(len(lost), 0) // never dropped
	is.True(ws.Pings() >= 5)
	is.Equal(ws.Dials(), uint64(1))
	join()
	is.True(strings.Contains((<-lost).Error(), "endpoint closed")) // only by closing
}

// pingFrames serves stream frames: it answers Ping with Pong when pong is
// set (ignoring it otherwise), counts pings, and answers messages only
// when echo is set.
func pingFrames(pong, echo bool, pings *atomic.Int64) func(nc net.Conn) {
	return func(nc net.Conn) {
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(nc, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if n == sockio.Ping {
				pings.Add(1)
				if pong {
					_, _ = nc.Write(binary.BigEndian.AppendUint32(nil, sockio.Pong))
				}
				continue
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(nc, msg); err != nil {
				return
			}
			if echo {
				_, _ = nc.Write(frame("echo:" + string(msg)))
			}
		}
	}
}

// The stream heartbeat: a peer that answers Ping frames keeps its
// connection; one that reads but never answers is dropped with a
// CommError that says why.
func TestStreamHeartbeat(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network+"/live", func(t *testing.T) {
			is := is.New(t)
			var pings atomic.Int64
			srv := newFrameServer(t, network, pingFrames(true, true, &pings))
			got, lost := make(chan string, 4), make(chan error, 4)
			st := sink.NewStream(sink.StreamConfig{
				Network: network, Address: srv.ln.Addr().String(),
				Healing: sink.Healing{Heartbeat: 25 * time.Millisecond},
				Receive: func(b []byte) { got <- string(b) },
				Lost:    func(_ *pipeline.Carrier, err error) { lost <- err },
				Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
			})
			in, join := runStage(st)
			in <- mkCall("hi")
			is.Equal(<-got, "echo:hi")
			eventually(t, "five pings", func() bool { return pings.Load() >= 5 })
			is.Equal(len(lost), 0) // the pongs kept it
			in <- mkCall("still")
			is.Equal(<-got, "echo:still") // pings and messages share the stream
			is.Equal(srv.n.Load(), int64(1))
			join()
		})
		t.Run(network+"/silent", func(t *testing.T) {
			is := is.New(t)
			var pings atomic.Int64
			srv := newFrameServer(t, network, pingFrames(false, false, &pings))
			lost := make(chan error, 4)
			st := sink.NewStream(sink.StreamConfig{
				Network: network, Address: srv.ln.Addr().String(),
				Healing: sink.Healing{Heartbeat: 10 * time.Millisecond},
				Receive: func([]byte) {},
				Lost:    func(_ *pipeline.Carrier, err error) { lost <- err },
				Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
			})
			in, join := runStage(st)
			defer join()
			c := mkCall("never answered")
			in <- c
			err := <-lost
			is.True(errors.Is(err, pipeline.ErrCommError))
			is.True(strings.Contains(err.Error(), "heartbeat"))
			is.True(pings.Load() >= 1) // it was asked
			is.True(c.Sent.Load())     // so the mux fails it with CommError
		})
	}
}

// heldFrames reads stream frames and reports, for each message, the index
// of the connection (in accept order) it arrived on; it never answers.
type heldFrames struct {
	next atomic.Int64
	got  chan [2]string // connection index, message
}

func (h *heldFrames) serve(nc net.Conn) {
	idx := h.next.Add(1) - 1
	_ = sink.ReadFrames(nc, 1<<20, func(b []byte) {
		h.got <- [2]string{string(rune('0' + idx)), string(b)}
	})
}

// With Conns(3), each call goes to the connection with the fewest calls
// in flight: calls made one after another while the earlier ones are
// still unanswered spread round-robin over three connections, opened as
// needed. Losing one connection reports only its carrier, which is the
// one its calls were written on.
func TestStreamConnsByLoad(t *testing.T) {
	is := is.New(t)
	h := &heldFrames{got: make(chan [2]string, 16)}
	srv := newFrameServer(t, "tcp", h.serve)
	st8 := newStates()
	lost := make(chan *pipeline.Carrier, 4)
	st := sink.NewStream(sink.StreamConfig{
		Network: "tcp", Address: srv.ln.Addr().String(),
		Healing: sink.Healing{Conns: 3},
		Receive: func([]byte) {},
		Lost:    func(k *pipeline.Carrier, _ error) { lost <- k },
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
		OnState: st8.on,
	})
	in, join := runStage(st)
	var calls []*pipeline.Call
	var onConn []string
	for i := 0; i < 7; i++ {
		c := mkCall(string(rune('a' + i)))
		calls = append(calls, c)
		// Through the direct lane when the chosen connection is open, as
		// the pipeline does, else through the worker.
		if !st.TryDirect(c) {
			in <- c
		}
		got := <-h.got // arrived: in flight on its connection
		is.Equal(got[1], string(rune('a'+i)))
		onConn = append(onConn, got[0])
	}
	is.Equal(strings.Join(onConn, ""), "0120120") // fewest in flight, lowest first
	is.Equal(srv.n.Load(), int64(3))
	is.Equal(calls[0].Via().InFlight(), int64(3)) // calls a, d, g
	is.Equal(calls[1].Via().InFlight(), int64(2))

	// The server drops the second connection (accept order 1).
	srv.mu.Lock()
	srv.conns[1].Close()
	srv.mu.Unlock()
	k := <-lost
	is.True(k == calls[1].Via() && k == calls[4].Via()) // b and e were on it
	is.True(k != calls[0].Via() && k != calls[2].Via())
	join()
	byConn := map[int][]bool{}
	st8.mu.Lock()
	for _, s := range st8.got {
		byConn[s.Conn] = append(byConn[s.Conn], s.Up)
	}
	st8.mu.Unlock()
	for i := 0; i < 3; i++ {
		is.Equal(byConn[i], []bool{true, false}) // up, then down, per connection
	}
}

// A failed dial sets the backoff: a call whose deadline comes before the
// next attempt fails at once with ConnectError; a call without one waits
// for the attempt, which succeeds once the peer is back. Nothing dials
// while no call waits.
func TestStreamReconnectBackoff(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "later.sock")
	got := make(chan string, 4)
	st := sink.NewStream(sink.StreamConfig{
		Network: "unix", Address: path,
		Healing: sink.Healing{ReconnectMin: time.Second, ReconnectMax: time.Second},
		Receive: func(b []byte) { got <- string(b) },
		Lost:    func(*pipeline.Carrier, error) {},
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	in, join := runStage(st)
	defer join()
	first := mkCall("first")
	in <- first
	_, err := first.Wait()
	is.True(errors.Is(err, pipeline.ErrConnectError)) // nobody listens
	is.Equal(st.Dials(), uint64(1))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// A call that reaches the worker while it still fails what was queued
	// at the failed dial gets that failure; the next one must not.
	for i := 0; i < 100; i++ {
		hurried := pipeline.NewCall(ctx, "a.b:1.0:f", nil)
		hurried.Frame = []byte("hurried")
		in <- hurried
		_, err = hurried.Wait()
		is.True(errors.Is(err, pipeline.ErrConnectError)) // failed at once, not at its deadline
		if strings.Contains(err.Error(), "next attempt") {
			break
		}
	}
	is.True(strings.Contains(err.Error(), "next attempt")) // and why
	is.Equal(st.Dials(), uint64(1))                        // no dial for it

	patient := mkCall("patient")
	in <- patient // waits for the next attempt (about 1 s)
	srv := newFrameServerAt(t, "unix", path, echoFrames)
	is.Equal(<-got, "echo:patient") // the peer is back: it went out
	is.Equal(st.Dials(), uint64(2))
	is.Equal(srv.n.Load(), int64(1))
}

// A dial failure with nothing queued does not dial again: dials follow
// calls, never a timer.
func TestStreamNoDialWithoutCalls(t *testing.T) {
	is := is.New(t)
	st := sink.NewStream(sink.StreamConfig{
		Network: "unix", Address: filepath.Join(t.TempDir(), "nobody.sock"),
		Healing: sink.Healing{ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond},
		Receive: func([]byte) {},
		Lost:    func(*pipeline.Carrier, error) {},
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	in, join := runStage(st)
	defer join()
	for i := 0; i < 5; i++ {
		c := mkCall("x")
		in <- c
		_, err := c.Wait()
		is.True(errors.Is(err, pipeline.ErrConnectError))
	}
	dials := st.Dials()
	is.True(dials >= 1 && dials <= 5) // at most one attempt per call
	time.Sleep(50 * time.Millisecond) // 25 backoff maxima: a retry loop would have dialled
	is.Equal(st.Dials(), dials)
}
