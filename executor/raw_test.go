package executor_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
)

// rawTestFuncs is the raw part of test.svc:1.10.
func rawTestFuncs() map[string]executor.RawFunc {
	return map[string]executor.RawFunc{
		"put": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, out *executor.RawOutput) (any, error) {
			if r.Body == nil {
				return map[string]any{"body": nil, "params": r.Params, "user": r.User}, nil
			}
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			return map[string]any{"body": string(b), "params": r.Params, "user": r.User, "out": out != nil,
				"channel": r.Channel, "secure": r.Secure, "seclvl": r.SecLvl}, nil
		}},
		"get": {Result: true, Handler: func(_ context.Context, r *executor.RawRequest, out *executor.RawOutput) (any, error) {
			out.SetContentType("application/futoin+json") // refused: raw data never looks like a message
			return "raw:" + r.Func, nil
		}},
		"stuck": {Upload: true, Timeout: 200 * time.Millisecond, Handler: func(ctx context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			_, err := io.ReadAll(r.Body) // the caller never finishes the body
			return nil, err
		}},
		"panics": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			panic("secret raw panic")
		}},
	}
}

func rawServer(t *testing.T, opts ...executor.Option) (*executor.Executor, *executor.Server) {
	t.Helper()
	is := is.New(t)
	ex := executor.New(opts...)
	is.NoErr(ex.RegisterRaw("test.svc:1.10", rawTestFuncs())) // raw first
	is.NoErr(ex.Register("test.svc:1.10", testFuncs()))       // then plain, same version
	return ex, listen(t, ex)
}

func TestRegisterRawRules(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	h := func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) { return nil, nil }
	is.NoErr(ex.Register("a.b:1.0", testFuncs()))
	is.NoErr(ex.RegisterRaw("a.b:1.0", map[string]executor.RawFunc{"up": {Upload: true, Handler: h}}))
	is.True(ex.RegisterRaw("a.b:1.0", map[string]executor.RawFunc{"up2": {Upload: true, Handler: h}}) != nil) // raw twice
	is.True(ex.Register("a.b:1.0", nil) != nil)                                                               // plain twice
	is.True(ex.RegisterRaw("c.d:1.0", map[string]executor.RawFunc{"x": {Handler: h}}) != nil)                 // neither flag
	is.True(ex.RegisterRaw("c.d:1.0", map[string]executor.RawFunc{"x": {Upload: true}}) != nil)               // nil handler
	is.True(ex.RegisterRaw("c.d:1.0", map[string]executor.RawFunc{"Bad": {Upload: true, Handler: h}}) != nil) // name
	is.True(ex.RegisterRaw("c.d:1", nil) != nil)                                                              // version
	is.NoErr(ex.RegisterRaw("e.f:1.1", map[string]executor.RawFunc{"echo": {Upload: true, Handler: h}}))
	is.True(ex.Register("e.f:1.1", testFuncs()) != nil) // "echo" both plain and raw
	is.True(ex.Register("e.f:1.2", testFuncs()) != nil) // another minor of the same major
}

// URL-mapped requests (HTTP.md §2): uploads, GETs, sec from the 4th
// segment or Basic auth, trailing slash, and the errors of each.
func TestRawURLMapped(t *testing.T) {
	is := is.New(t)
	_, srv := rawServer(t, executor.WithAuth(func(_ context.Context, u, p string) error {
		if u == "bob" && p == "pw" {
			return nil
		}
		return io.EOF
	}))
	base := srv.HTTPURL() + "ftn/test.svc/1.10/"

	r := post(t, base+"put?a=1&b=%7B%7D", "payload")
	is.Equal(r.Msg["r"], map[string]any{"body": "payload", "params": map[string]any{"a": "1", "b": "{}"}, "user": "", "out": false,
		"channel": executor.ChannelHTTP, "secure": false, "seclvl": executor.SecLvlAnonymous}) // the handler knows its channel

	r = post(t, base+"put/bob%3Apw/", "x") // sec in the path, trailing slash
	is.Equal(r.Msg["r"].(map[string]any)["user"], "bob")
	is.Equal(r.Msg["r"].(map[string]any)["seclvl"], executor.SecLvlSafeOps)

	req, _ := http.NewRequest(http.MethodPost, base+"put", strings.NewReader("x"))
	req.SetBasicAuth("bob", "pw")
	r = do(t, req)
	is.Equal(r.Msg["r"].(map[string]any)["user"], "bob")

	req, _ = http.NewRequest(http.MethodPost, base+"put", strings.NewReader("x"))
	req.SetBasicAuth("bob", "nope")
	r = do(t, req)
	is.Equal(r.Msg["e"], "SecurityError")

	r = post(t, base+"put?a=1&a=2", "x")
	is.Equal(r.Msg["e"], "InvalidRequest") // a key twice

	r = post(t, base+"echo", "x")
	is.Equal(r.Msg["e"], "InvalidRequest") // no raw upload to a plain function
	r = post(t, base+"get", "x")
	is.Equal(r.Msg["e"], "InvalidRequest") // nor to a raw one without Upload
	req, _ = http.NewRequest(http.MethodPost, base+"get", http.NoBody)
	ct, body := doRaw(t, req)
	is.Equal(body, "raw:get") // an empty POST is a GET
	is.Equal(ct, "application/octet-stream")
	r = post(t, base+"put", "")
	is.Equal(r.Msg["r"].(map[string]any)["body"], "") // an empty upload to an Upload function
	r = post(t, srv.HTTPURL()+"ftn/test.svc/1.10/nothere", "x")
	is.Equal(r.Msg["e"], "NotImplemented")
	r = post(t, srv.HTTPURL()+"ftn/test.svc/2.0/put", "x")
	is.Equal(r.Msg["e"], "NotSupportedVersion")

	// GET: use case 2, params from the query, always answered in JSON.
	get, _ := http.NewRequest(http.MethodGet, base+"echo?msg=hi", nil)
	r = do(t, get)
	is.Equal(r.CType, "application/futoin+json")
	is.Equal(r.Msg["r"], map[string]any{"msg": "hi"})

	get, _ = http.NewRequest(http.MethodGet, base+"get", nil)
	ct, body = doRaw(t, get)
	is.Equal(body, "raw:get")
	is.Equal(ct, "application/octet-stream")

	del, _ := http.NewRequest(http.MethodDelete, base+"put", nil)
	r = do(t, del)
	is.Equal(r.Status, http.StatusMethodNotAllowed)
}

// A message POST to a rawresult function gets raw data; over WebSocket a
// rawresult function is InvalidRequest and an upload function runs with a
// nil Body.
func TestRawOverMessagesAndWebSocket(t *testing.T) {
	is := is.New(t)
	_, srv := rawServer(t)

	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL(), strings.NewReader(`{"f":"test.svc:1.10:get","p":{},"forcersp":true}`))
	_, body := doRaw(t, req)
	is.Equal(body, "raw:get")

	r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.10:panics","p":{}}`)
	is.Equal(r.Msg["e"], "InternalError")
	is.True(!strings.Contains(r.Raw, "secret"))

	c := dial(t, srv.WSURL())
	m := call(t, c, `{"f":"test.svc:1.10:get","p":{},"rid":"C1"}`)
	is.Equal(m["e"], "InvalidRequest")
	is.Equal(m["rid"], "C1")
	m = call(t, c, `{"f":"test.svc:1.10:put","p":{"a":1},"rid":"C2"}`)
	is.Equal(m["r"], map[string]any{"body": nil, "params": map[string]any{"a": 1.0}, "user": ""})
}

// The function's Timeout ends an upload that never completes:
// InternalError "request timed out", as a FutoIn message.
func TestRawUploadTimeout(t *testing.T) {
	is := is.New(t)
	_, srv := rawServer(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("partial")) }()
	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL()+"test.svc/1.10/stuck", pr)
	r := do(t, req)
	is.Equal(r.Msg["e"], string(pipeline.InternalError))
	is.Equal(r.Msg["edesc"], "request timed out")
}

// doRaw makes req and returns the reply's type and body, unparsed.
func doRaw(t *testing.T, req *http.Request) (string, string) {
	t.Helper()
	is := is.New(t)
	rsp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	is.NoErr(err)
	is.Equal(rsp.StatusCode, http.StatusOK)
	return rsp.Header.Get("Content-Type"), string(b)
}

// A raw result to a peer that does not read: when the function's Timeout
// passes, the blocked Write fails, the handler returns, and the peer sees
// the body cut.
func TestRawResultSlowPeer(t *testing.T) {
	is := is.New(t)
	done := make(chan error, 1)
	ex := executor.New()
	is.NoErr(ex.RegisterRaw("slow.peer:1.0", map[string]executor.RawFunc{
		"flood": {Result: true, Timeout: 300 * time.Millisecond, Handler: func(_ context.Context, _ *executor.RawRequest, out *executor.RawOutput) (any, error) {
			chunk := make([]byte, 64<<10)
			for i := 0; i < 16<<10; i++ { // at most 1 GiB
				if _, err := out.Write(chunk); err != nil {
					done <- err
					return nil, err
				}
			}
			done <- nil
			return nil, nil
		}},
	}))
	srv := listen(t, ex)
	rsp, err := http.Get(srv.HTTPURL() + "slow.peer/1.0/flood")
	is.NoErr(err)
	defer rsp.Body.Close()
	select {
	case err := <-done:
		is.True(err != nil) // the write was cut
	case <-time.After(30 * time.Second):
		t.Fatal("the handler's write was never cut")
	}
	_, err = io.Copy(io.Discard, rsp.Body)
	is.True(err != nil) // truncated body
}
