package sink_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
)

// countConn counts Write calls on the underlying connection.
type countConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// Corked writes reach the socket as one write, in order; uncorked ones
// pass straight through.
func TestCorkConn(t *testing.T) {
	is := is.New(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cc := &countConn{Conn: a}
	cork := sink.NewCorkConn(cc)
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		var all []byte
		for len(all) < len("onetwothreefour") {
			n, err := b.Read(buf)
			if err != nil {
				break
			}
			all = append(all, buf[:n]...)
		}
		got <- string(all)
	}()
	cork.Cork()
	for _, s := range []string{"one", "two", "three"} {
		n, err := cork.Write([]byte(s))
		is.NoErr(err)
		is.Equal(n, len(s))
	}
	is.Equal(cc.writes.Load(), int64(0)) // nothing written while corked
	is.NoErr(cork.Uncork())
	is.Equal(cc.writes.Load(), int64(1)) // one write for the batch
	_, err := cork.Write([]byte("four"))
	is.NoErr(err)
	is.Equal(cc.writes.Load(), int64(2)) // pass-through after Uncork
	is.Equal(<-got, "onetwothreefour")
}

func TestIsFutoInType(t *testing.T) {
	is := is.New(t)
	for ct, want := range map[string]bool{
		"application/futoin+json":                true,
		"application/vnd.futoin+json":            true,
		"application/futoin+json; charset=utf-8": true,
		"Application/Futoin+Msgpack":             true,
		"application/json":                       false,
		"text/html":                              false,
		"":                                       false,
		"application/octet-stream":               false,
		"application/futoin":                     false,
		"application/vnd.futoin+cbor; q=1; x=\"y z\"": true,
	} {
		is.Equal(sink.IsFutoInType(ct), want) // content type
	}
}

// runStage runs st as a one-worker stage and returns its input and a join.
func runStage(st pipeline.Stage) (chan *pipeline.Call, func()) {
	in := make(chan *pipeline.Call, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Run(context.Background(), in, nil)
	}()
	return in, func() { close(in); <-done }
}

// A dial failure fails the call and everything queued behind it with
// ConnectError at once; nothing waits for a deadline.
func TestWebSocketDialFailureFailsQueue(t *testing.T) {
	is := is.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := ln.Addr().String()
	ln.Close()
	var failed atomic.Int64
	var lost atomic.Int64
	ws := sink.NewWebSocket(sink.WSConfig{
		URL:     "ws://" + addr + "/",
		Receive: func([]byte) {},
		Lost:    func(*pipeline.Carrier, error) { lost.Add(1) },
		Fail: func(c *pipeline.Call, err error) {
			failed.Add(1)
			c.Complete(nil, err)
		},
	})
	in, join := runStage(ws)
	calls := make([]*pipeline.Call, 5)
	for i := range calls {
		calls[i] = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
		in <- calls[i]
	}
	for _, c := range calls {
		_, err := c.Wait()
		is.True(errors.Is(err, pipeline.ErrConnectError))
		is.True(!c.Sent.Load()) // nothing was sent
	}
	join()
	is.Equal(failed.Load(), int64(5))
	is.Equal(lost.Load(), int64(0)) // no connection was ever up
}

// Frames go out on one connection; the reader hands every message to
// Receive; losing the connection calls Lost with a CommError, and the next
// call dials again.
func TestWebSocketSendReceiveLose(t *testing.T) {
	is := is.New(t)
	e := newEchoWS(t)
	ws, got, lost := e.sink()
	in, join := runStage(ws)
	send := func(s string) *pipeline.Call {
		c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
		c.Frame = []byte(s)
		in <- c
		return c
	}
	c1 := send("one")
	is.Equal(<-got, "echo:one")
	is.True(c1.Sent.Load())
	send("two")
	is.Equal(<-got, "echo:two")
	is.Equal(e.conns.Load(), int64(1))

	e.cut() // the server drops the connection
	err := <-lost
	is.True(errors.Is(err, pipeline.ErrCommError))

	send("three")
	is.Equal(<-got, "echo:three") // dialled again
	is.Equal(e.conns.Load(), int64(2))
	join()
	is.True(errors.Is(<-lost, pipeline.ErrCommError)) // closing the stage drops the connection too
}

// HTTP: a refused connection is a ConnectError, a reply that is not FutoIn a
// CommError, a FutoIn reply goes to Finish.
func TestHTTPOutcomes(t *testing.T) {
	is := is.New(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/html" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/futoin+json")
		_, _ = w.Write([]byte(`{"r":{}}`))
	}))
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()

	for url, want := range map[string]pipeline.ErrorName{
		srv.URL + "/":     "",
		srv.URL + "/html": pipeline.CommError,
		dead:              pipeline.ConnectError,
	} {
		var finished atomic.Int64
		h := sink.NewHTTP(sink.HTTPConfig{
			URL:         url,
			ContentType: "application/futoin+json",
			MaxConns:    2,
			Finish: func(c *pipeline.Call, body []byte) error {
				finished.Add(1)
				c.Complete(string(body), nil)
				return nil
			},
			Fail: func(c *pipeline.Call, err error) { c.Complete(nil, err) },
		})
		in, join := runStage(h)
		c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
		c.Frame = []byte(`{"f":"a.b:1.0:f","p":{}}`)
		in <- c
		res, err := c.Wait()
		join()
		h.CloseIdle()
		is.Equal(pipeline.NameOf(err), want) // outcome for url
		if want == "" {
			is.Equal(res, `{"r":{}}`)
			is.Equal(finished.Load(), int64(1))
		} else {
			is.True(strings.Contains(err.Error(), "502") || want == pipeline.ConnectError)
		}
	}
}

// TryDirect declines without a connection, writes from the caller's
// goroutine once one is open, and a failed direct write is reported as a
// lost connection (CommError) by the worker.
func TestWebSocketTryDirect(t *testing.T) {
	is := is.New(t)
	e := newEchoWS(t)
	ws, got, lost := e.sink()
	mk := func(s string) *pipeline.Call {
		c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
		c.Frame = []byte(s)
		return c
	}
	is.True(!ws.TryDirect(mk("early"))) // no connection yet
	in, join := runStage(ws)
	in <- mk("one") // the worker dials
	is.Equal(<-got, "echo:one")
	c := mk("two")
	// The worker may still hold the write lock for a moment after the echo
	// of "one" arrived; the lane declines while it does.
	taken := false
	for i := 0; i < 1000 && !taken; i++ {
		if taken = ws.TryDirect(c); !taken {
			time.Sleep(time.Millisecond)
		}
	}
	is.True(taken) // written by this goroutine
	is.True(c.Sent.Load())
	is.Equal(<-got, "echo:two")

	e.cut()
	is.True(errors.Is(<-lost, pipeline.ErrCommError))
	is.True(!ws.TryDirect(mk("after loss"))) // no open connection: declined
	join()
}

// echoWS is a WebSocket server that answers every message with "echo:"
// and the message, and can drop its connections.
type echoWS struct {
	srv   *httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	live  []*websocket.Conn
}

func newEchoWS(t *testing.T) *echoWS {
	e := &echoWS{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		e.conns.Add(1)
		e.mu.Lock()
		e.live = append(e.live, c)
		e.mu.Unlock()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			_ = c.Write(r.Context(), typ, append([]byte("echo:"), b...))
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// cut closes every connection from the server side.
func (e *echoWS) cut() {
	e.mu.Lock()
	for _, c := range e.live {
		c.CloseNow()
	}
	e.mu.Unlock()
}

// sink returns a WebSocket stage for e, with what it receives and the
// losses it reports.
func (e *echoWS) sink() (*sink.WebSocket, chan string, chan error) {
	got := make(chan string, 16)
	lost := make(chan error, 4)
	ws := sink.NewWebSocket(sink.WSConfig{
		URL:     "ws" + strings.TrimPrefix(e.srv.URL, "http"),
		Receive: func(b []byte) { got <- string(b) },
		Lost:    func(_ *pipeline.Carrier, err error) { lost <- err },
		Fail:    func(c *pipeline.Call, err error) { c.Complete(nil, err) },
	})
	return ws, got, lost
}

// The HTTP sink sends the codec's media type and accepts it in both forms,
// plus JSON for a binary codec (a peer's JSON error reply).
func TestHTTPHeadersPerCodec(t *testing.T) {
	var mu sync.Mutex
	var ctype, accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ctype, accept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.futoin+cbor")
		_, _ = w.Write([]byte("CBOR\xa1ar\xa0"))
	}))
	defer srv.Close()
	for ct, want := range map[string]string{
		"":                        "application/futoin+json, application/vnd.futoin+json",
		"application/futoin+json": "application/futoin+json, application/vnd.futoin+json",
		"application/futoin+msgpack": "application/futoin+msgpack, application/vnd.futoin+msgpack, " +
			"application/futoin+json, application/vnd.futoin+json",
		"application/futoin+cbor": "application/futoin+cbor, application/vnd.futoin+cbor, " +
			"application/futoin+json, application/vnd.futoin+json",
	} {
		is := is.New(t)
		h := sink.NewHTTP(sink.HTTPConfig{
			URL:         srv.URL,
			ContentType: ct,
			Finish: func(c *pipeline.Call, body []byte) error {
				c.Complete(string(body), nil)
				return nil
			},
			Fail: func(c *pipeline.Call, err error) { c.Complete(nil, err) },
		})
		in, join := runStage(h)
		c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
		c.Frame = []byte("x")
		in <- c
		res, err := c.Wait()
		join()
		h.CloseIdle()
		is.NoErr(err)
		is.Equal(res, "CBOR\xa1ar\xa0") // any FutoIn type goes to Finish
		mu.Lock()
		if ct == "" {
			ct = "application/futoin+json"
		}
		is.Equal(ctype, ct)
		is.Equal(accept, want)
		mu.Unlock()
	}
}
