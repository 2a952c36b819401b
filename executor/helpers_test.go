package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
)

// testFuncs is the function set of "test.svc:1.10".
func testFuncs() map[string]executor.Handler {
	return map[string]executor.Handler{
		"echo": func(_ context.Context, req *executor.Request) (any, error) {
			return req.Params, nil
		},
		"whoami": func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"user": req.User, "f": req.Iface + ":" + req.Version + ":" + req.Func}, nil
		},
		"nothing": func(context.Context, *executor.Request) (any, error) { return nil, nil },
		"scalar":  func(context.Context, *executor.Request) (any, error) { return 3, nil },
		"boom": func(context.Context, *executor.Request) (any, error) {
			panic("secret panic value")
		},
		"fail": func(_ context.Context, req *executor.Request) (any, error) {
			name, _ := req.Params["name"].(string)
			return nil, pipeline.NewError(pipeline.ErrorName(name), "described")
		},
		"plainErr": func(context.Context, *executor.Request) (any, error) {
			return nil, errors.New("db password=hunter2 leaked")
		},
		"block": func(ctx context.Context, _ *executor.Request) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"big": func(_ context.Context, req *executor.Request) (any, error) {
			n, _ := req.Params["n"].(float64)
			return strings.Repeat("x", int(n)), nil
		},
		"badResult": func(context.Context, *executor.Request) (any, error) {
			return make(chan int), nil
		},
	}
}

// start returns an Executor serving test.svc:1.10 on loopback; it is closed
// when the test ends.
func start(t *testing.T, opts ...executor.Option) (*executor.Executor, *executor.Server) {
	t.Helper()
	is := is.New(t)
	ex := executor.New(opts...)
	is.NoErr(ex.Register("test.svc:1.10", testFuncs())) // register test.svc
	return ex, listen(t, ex)
}

// listen starts a Server for ex and closes ex when the test ends. Call it
// before dial: cleanups run last-first, so clients close before the
// Executor, which would otherwise wait up to 5 s for each client to answer
// its close frame.
func listen(t *testing.T, ex *executor.Executor) *executor.Server {
	t.Helper()
	srv, err := ex.Listen("")
	is.New(t).NoErr(err) // listen
	t.Cleanup(func() { _ = ex.Close() })
	return srv
}

type reply struct {
	Status int
	CType  string
	Raw    string
	Msg    map[string]any
}

func post(t *testing.T, url, body string, header ...string) reply {
	t.Helper()
	is := is.New(t)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	is.NoErr(err)
	req.Header.Set("Content-Type", "application/futoin+json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	is := is.New(t)
	rsp, err := http.DefaultClient.Do(req)
	is.NoErr(err) // HTTP request
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	is.NoErr(err)
	r := reply{Status: rsp.StatusCode, CType: rsp.Header.Get("Content-Type"), Raw: string(b)}
	if strings.HasPrefix(r.CType, "application/") {
		is.NoErr(json.Unmarshal(b, &r.Msg)) // response is JSON
	}
	return r
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	is.New(t).NoErr(err) // dial
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	is.New(t).NoErr(c.Write(ctx, websocket.MessageText, []byte(msg))) // ws write
}

// recv reads one message; it fails the test on a non-binary frame.
func recv(t *testing.T, c *websocket.Conn) (map[string]any, string) {
	t.Helper()
	is := is.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	is.NoErr(err)                          // ws read
	is.Equal(typ, websocket.MessageBinary) // responses are binary frames
	var m map[string]any
	is.NoErr(json.Unmarshal(b, &m)) // response is JSON
	return m, string(b)
}

// call sends msg and reads the next message.
func call(t *testing.T, c *websocket.Conn, msg string) map[string]any {
	t.Helper()
	send(t, c, msg)
	m, _ := recv(t, c)
	return m
}
