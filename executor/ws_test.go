package executor_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/ftnpipe/ccm/executor"
)

func TestWSCall(t *testing.T) {
	is := is.New(t)
	_, srv := start(t)
	c := dial(t, srv.WSURL())

	m := call(t, c, `{"f":"test.svc:1.10:echo","p":{"a":"b"},"rid":"C1","forcersp":true}`)
	is.Equal(m, map[string]any{"r": map[string]any{"a": "b"}, "rid": "C1"})

	// Binary request frames too (what the RI invoker sends).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	is.NoErr(c.Write(ctx, websocket.MessageBinary, []byte(`{"f":"test.svc:1.0:scalar","p":{},"rid":"Cx_-2"}`)))
	m, _ = recv(t, c)
	is.Equal(m, map[string]any{"r": 3.0, "rid": "Cx_-2"})

	m = call(t, c, `{"f":"test.nope:1.0:x","p":{},"rid":"C3"}`)
	is.Equal(m["e"], "UnknownInterface")
	is.Equal(m["rid"], "C3")

	m = call(t, c, `{"f":"test.svc:1.0:boom","p":{},"rid":"C4"}`)
	is.Equal(m, map[string]any{"e": "InternalError", "edesc": "internal error", "rid": "C4"})
	m = call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C5"}`)
	is.Equal(m["r"], 3.0) // the connection survived the panic
}

func TestWSInvalid(t *testing.T) {
	_, srv := start(t)
	c := dial(t, srv.WSURL())
	for _, tc := range []struct {
		name, msg, rid, edesc string
	}{
		{"missing rid", `{"f":"test.svc:1.0:scalar","p":{}}`, "", "rid"},
		{"malformed", `{"f":`, "", "malformed"},
		{"not json", `hello`, "", "malformed"},
		{"null", `null`, "", "malformed"},
		{"bad request with rid", `{"f":1,"p":{},"rid":"C9"}`, "C9", "malformed"},
		{"bad rid prefix", `{"f":"test.svc:1.0:scalar","p":{},"rid":"X1"}`, "X1", "rid"},
		{"non-string rid", `{"f":"test.svc:1.0:scalar","p":{},"rid":5}`, "", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := call(t, c, tc.msg)
			is.Equal(m["e"], "InvalidRequest")
			is.True(strings.Contains(m["edesc"].(string), tc.edesc))
			rid, hasRid := m["rid"]
			if tc.rid == "" {
				is.True(!hasRid) // no rid to echo
			} else {
				is.Equal(rid, tc.rid)
			}
			m = call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C100"}`)
			is.Equal(m["r"], 3.0) // still serving
		})
	}
}

func TestWSDropsServerRid(t *testing.T) {
	is := is.New(t)
	ex, srv := start(t)
	c := dial(t, srv.WSURL())
	send(t, c, `{"r":{},"rid":"S1"}`)
	send(t, c, `{"e":"InternalError","rid":"S2"}`)
	send(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"S3"}`)
	m := call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)
	is.Equal(m["rid"], "C1") // the S messages got no answer
	is.NoErr(c.Close(websocket.StatusNormalClosure, ""))
	is.NoErr(srv.Close()) // joins the connection's goroutines
	is.Equal(ex.Stats().DroppedResponses, uint64(3))
}

func TestWSOversize(t *testing.T) {
	is := is.New(t)
	_, srv := start(t, executor.WithMaxMessageSize(1024))
	c := dial(t, srv.WSURL())
	pad := func(n int) string {
		head, tail := `{"f":"test.svc:1.0:echo","p":{"s":"`, `"},"rid":"C1"}`
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	m := call(t, c, pad(1024))
	is.Equal(m["rid"], "C1") // exactly the limit is fine
	is.Equal(m["e"], nil)

	m = call(t, c, pad(1025))
	is.Equal(m["e"], "InvalidRequest")
	is.True(strings.Contains(m["edesc"].(string), "1024"))
	_, hasRid := m["rid"]
	is.True(!hasRid)

	m = call(t, c, pad(4096)) // up to 4x the limit is drained and answered
	is.Equal(m["e"], "InvalidRequest")

	m = call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C2"}`)
	is.Equal(m["r"], 3.0) // the connection survived

	// Far too big: the connection is closed with 1009. (Small enough that
	// the write completes before the server closes.)
	send(t, c, pad(4*1024+100))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	is.Equal(websocket.CloseStatus(err), websocket.StatusMessageTooBig)
}

// TestWSConcurrent holds many calls of one connection in their handlers
// and releases them in reverse order: the answers come back in release
// order, each with its own rid.
func TestWSConcurrent(t *testing.T) {
	is := is.New(t)
	const n = 32
	gates := make([]chan struct{}, n)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	started := make(chan int, n)
	ex := executor.New()
	is.NoErr(ex.Register("test.gate:1.0", map[string]executor.Handler{
		"wait": func(ctx context.Context, req *executor.Request) (any, error) {
			id := int(req.Params["id"].(float64))
			started <- id
			select {
			case <-gates[id]:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]any{"id": id, "rid": req.Rid}, nil
		},
	}))
	srv := listen(t, ex)
	c := dial(t, srv.WSURL())

	for i := range n {
		send(t, c, `{"f":"test.gate:1.0:wait","p":{"id":`+strconv.Itoa(i)+`},"rid":"C`+strconv.Itoa(i+1)+`"}`)
	}
	for range n {
		<-started // all n run at the same time
	}
	for i := n - 1; i >= 0; i-- {
		close(gates[i])
		m, _ := recv(t, c)
		is.Equal(m["rid"], "C"+strconv.Itoa(i+1))
		is.Equal(m["r"], map[string]any{"id": float64(i), "rid": "C" + strconv.Itoa(i+1)})
	}
}

func TestWSTimeout(t *testing.T) {
	is := is.New(t)
	release := make(chan struct{})
	ex := executor.New(executor.WithRequestTimeout(50 * time.Millisecond))
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"block":  testFuncs()["block"],
		"scalar": testFuncs()["scalar"],
		"stuck": func(context.Context, *executor.Request) (any, error) {
			<-release
			return "late", nil
		},
	}))
	srv := listen(t, ex)
	defer close(release) // before the cleanup closes ex, which waits for stuck
	c := dial(t, srv.WSURL())

	send(t, c, `{"f":"test.svc:1.0:stuck","p":{},"rid":"C1"}`)
	m := call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C2"}`)
	is.Equal(m["rid"], "C2") // not held up by the stuck call
	m, _ = recv(t, c)
	is.Equal(m, map[string]any{"e": "InternalError", "edesc": "request timed out", "rid": "C1"})

	m = call(t, c, `{"f":"test.svc:1.0:block","p":{},"rid":"C3"}`)
	is.Equal(m, map[string]any{"e": "InternalError", "edesc": "request timed out", "rid": "C3"})
}

func TestServerClose(t *testing.T) {
	is := is.New(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	const n = 4
	started := make(chan struct{}, n)
	cancelled := make(chan struct{}, n)
	ex := executor.New()
	defer ex.Close()
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"wait": func(ctx context.Context, _ *executor.Request) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			cancelled <- struct{}{}
			return nil, ctx.Err()
		},
	}))
	srv, err := ex.Listen("")
	is.NoErr(err)
	other, err := ex.Listen("") // closing one Server leaves the other alone
	is.NoErr(err)

	conns := []*websocket.Conn{dial(t, srv.WSURL()), dial(t, srv.WSURL())}
	for i := range n - 1 {
		send(t, conns[i%2], `{"f":"test.svc:1.0:wait","p":{},"rid":"C`+strconv.Itoa(i+1)+`"}`)
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	posted := make(chan struct{})
	go func() { // one call over HTTP too
		defer close(posted)
		rsp, err := client.Post(srv.HTTPURL(), "application/futoin+json", strings.NewReader(`{"f":"test.svc:1.0:wait","p":{}}`))
		if err == nil {
			rsp.Body.Close()
		}
	}()
	for range n {
		<-started
	}
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			for { // drain any last replies until the close
				if _, _, err := c.Read(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	is.NoErr(srv.Close())
	is.Equal(len(cancelled), n) // every handler was cancelled and joined
	<-posted
	for range conns {
		err := <-errs
		is.True(err != nil)
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			is.Equal(ce.Code, websocket.StatusGoingAway)
		}
	}
	is.NoErr(srv.Close()) // idempotent

	_, err = client.Post(srv.HTTPURL(), "application/futoin+json", strings.NewReader(`{}`))
	is.True(err != nil) // no longer listening

	r := post(t, other.HTTPURL(), `{"f":"test.svc:1.0:nope","p":{}}`)
	is.Equal(r.Msg["e"], "NotImplemented") // the other Server still serves
	is.NoErr(ex.Close())
	http.DefaultClient.CloseIdleConnections()
}

// TestWSBatchLarge answers many concurrent big responses (batches larger
// than the batch buffer) while the client pings, and checks every byte.
func TestWSBatchLarge(t *testing.T) {
	is := is.New(t)
	_, srv := start(t, executor.WithMaxMessageSize(32<<10))
	c := dial(t, srv.WSURL())
	const n = 40
	for i := range n {
		send(t, c, `{"f":"test.svc:1.0:big","p":{"n":`+strconv.Itoa(20000+i)+`},"rid":"C`+strconv.Itoa(i)+`"}`)
	}
	pinged := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pinged <- c.Ping(ctx) // answered by the server's read loop, between batches
	}()
	seen := map[string]bool{}
	for range n {
		m, _ := recv(t, c)
		rid := m["rid"].(string)
		i, err := strconv.Atoi(rid[1:])
		is.NoErr(err)
		is.Equal(m["r"], strings.Repeat("x", 20000+i))
		seen[rid] = true
	}
	is.Equal(len(seen), n)
	for { // the client handles the pong while reading: keep reading until it came
		select {
		case err := <-pinged:
			is.NoErr(err) // ping
			return
		default:
			m := call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C999"}`)
			is.Equal(m["r"], 3.0)
		}
	}
}
