package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// ws-echo is the floor: a bare coder/websocket connection carrying
// {"rid":"C<n>","msg":s} JSON messages, many in flight at once, matched back
// by rid through a pending map with a per-call channel (the multiplexing an
// RPC client over WS must do at the least). The server echoes each message
// as it is, in its read loop. No framing, validation, errors or retries
// beyond that.

type wsMsg struct {
	Rid string `json:"rid"`
	Msg string `json:"msg"`
}

func wsEchoHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := context.Background() // no per-read AfterFunc; CloseNow unblocks
	var buf bytes.Buffer
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		if err := c.Write(ctx, typ, buf.Bytes()); err != nil {
			return
		}
	}
}

// A wsFraming is how the floor client encodes a request with rid "C<id>"
// and finds rid and echoed string in a reply.
type wsFraming struct {
	encode func(rid string) ([]byte, error)
	decode func(b []byte) (rid, msg string, err error)
}

// echoFraming is ws-echo's own: {"rid","msg"} both ways.
var echoFraming = wsFraming{
	encode: func(rid string) ([]byte, error) { return json.Marshal(wsMsg{Rid: rid, Msg: payload}) },
	decode: func(b []byte) (string, string, error) {
		var m wsMsg
		err := json.Unmarshal(b, &m)
		return m.Rid, m.Msg, err
	},
}

type wsEchoClient struct {
	conn    *websocket.Conn
	framing wsFraming
	next    atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan string
	err     error // set once the read loop ended

	done   chan struct{} // closed when the read loop ended
	chPool sync.Pool
}

var errClientClosed = errors.New("client closed")

func dialWSEcho(ctx context.Context, addr string, _ int) (client, error) {
	return dialWSFloor(ctx, "ws://"+addr+"/ws", echoFraming)
}

func dialWSFloor(ctx context.Context, url string, framing wsFraming) (*wsEchoClient, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	c := &wsEchoClient{
		conn:    conn,
		framing: framing,
		pending: make(map[uint64]chan string),
		done:    make(chan struct{}),
	}
	c.chPool.New = func() any { return make(chan string, 1) }
	go c.readLoop()
	return c, nil
}

func (c *wsEchoClient) readLoop() {
	var (
		buf bytes.Buffer
		err error
	)
	defer func() {
		c.mu.Lock()
		c.err = err
		c.pending = nil
		c.mu.Unlock()
		close(c.done)
	}()
	ctx := context.Background() // no per-read AfterFunc; close() unblocks
	for {
		var rd io.Reader
		if _, rd, err = c.conn.Reader(ctx); err != nil {
			return
		}
		buf.Reset()
		if _, err = buf.ReadFrom(rd); err != nil {
			return
		}
		var rid, msg string
		if rid, msg, err = c.framing.decode(buf.Bytes()); err != nil {
			return
		}
		if len(rid) < 2 || rid[0] != 'C' {
			continue
		}
		id, perr := strconv.ParseUint(rid[1:], 10, 64)
		if perr != nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- msg // capacity 1, one sender: never blocks
		}
	}
}

func (c *wsEchoClient) call(ctx context.Context) error {
	id := c.next.Add(1)
	ch := c.chPool.Get().(chan string)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return fmt.Errorf("connection lost: %w", err)
	}
	c.pending[id] = ch
	c.mu.Unlock()

	b, err := c.framing.encode("C" + strconv.FormatUint(id, 10))
	if err == nil {
		err = c.conn.Write(ctx, websocket.MessageText, b)
	}
	if err != nil {
		c.forget(id)
		return err
	}
	select {
	case msg := <-ch:
		c.chPool.Put(ch) // only a drained channel goes back
		if msg != payload {
			return errMismatch(msg)
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return ctx.Err()
	case <-c.done:
		return fmt.Errorf("connection lost: %w", c.err)
	}
}

func (c *wsEchoClient) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *wsEchoClient) close() error {
	err := c.conn.Close(websocket.StatusNormalClosure, "")
	<-c.done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func init() {
	registerServer(serverPart{
		name: "wsecho",
		serve: func(ln net.Listener) (func(), error) {
			mux := http.NewServeMux()
			mux.HandleFunc("/ws", wsEchoHandler)
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close() }, nil
		},
	})
	registerCase(benchCase{
		name:   "ws-echo",
		order:  50,
		server: "wsecho",
		dial:   dialWSEcho,
	})
}
