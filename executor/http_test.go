package executor_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
)

// TestErrors runs the request checks over HTTP; the same code serves WS.
func TestErrors(t *testing.T) {
	var mu sync.Mutex
	var reported []error
	_, srv := start(t, executor.WithErrorHook(func(_ *executor.Request, err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}), executor.WithMaxMessageSize(4096))

	for _, tc := range []struct {
		name, body string
		e, edesc   string // edesc: substring, "" to skip
		r          any
	}{
		{"ok", `{"f":"test.svc:1.10:echo","p":{"a":1}}`, "", "", map[string]any{"a": 1.0}},
		{"minor equal", `{"f":"test.svc:1.10:scalar","p":{}}`, "", "", 3.0},
		{"minor numeric", `{"f":"test.svc:1.9:scalar","p":{}}`, "", "", 3.0},
		{"minor zero", `{"f":"test.svc:1.0:scalar","p":{}}`, "", "", 3.0},
		{"minor greater", `{"f":"test.svc:1.11:scalar","p":{}}`, "NotSupportedVersion", "", nil},
		{"minor greater 1.100", `{"f":"test.svc:1.100:scalar","p":{}}`, "NotSupportedVersion", "", nil},
		{"other major", `{"f":"test.svc:2.0:scalar","p":{}}`, "NotSupportedVersion", "", nil},
		{"unknown iface", `{"f":"test.nope:1.0:scalar","p":{}}`, "UnknownInterface", "", nil},
		{"unknown func", `{"f":"test.svc:1.0:nope","p":{}}`, "NotImplemented", "nope", nil},
		{"f two parts", `{"f":"test.svc:1.0","p":{}}`, "InvalidRequest", "", nil},
		{"f four parts", `{"f":"test.svc:1.0:echo:x","p":{}}`, "InvalidRequest", "", nil},
		{"f bad version", `{"f":"test.svc:1:echo","p":{}}`, "InvalidRequest", "", nil},
		{"f letters in version", `{"f":"test.svc:1.x:echo","p":{}}`, "InvalidRequest", "", nil},
		{"f empty func", `{"f":"test.svc:1.0:","p":{}}`, "InvalidRequest", "", nil},
		{"f not a string", `{"f":1,"p":{}}`, "InvalidRequest", "", nil},
		{"no p", `{"f":"test.svc:1.0:echo"}`, "InvalidRequest", "", nil},
		{"unknown key", `{"f":"test.svc:1.0:echo","p":{},"x":1}`, "InvalidRequest", "", nil},
		{"malformed", `{"f":`, "InvalidRequest", "", nil},
		{"not json", `hello`, "InvalidRequest", "", nil},
		{"empty", ``, "InvalidRequest", "", nil},
		{"nil result", `{"f":"test.svc:1.0:nothing","p":{}}`, "", "", map[string]any{}},
		{"nil result forcersp", `{"f":"test.svc:1.0:nothing","p":{},"forcersp":true}`, "", "", map[string]any{}},
		{"custom error", `{"f":"test.svc:1.0:fail","p":{"name":"NotEnoughMoney"}}`, "NotEnoughMoney", "described", nil},
		{"standard error", `{"f":"test.svc:1.0:fail","p":{"name":"Unauthorized"}}`, "Unauthorized", "described", nil},
		{"invoker-side error", `{"f":"test.svc:1.0:fail","p":{"name":"CommError"}}`, "InternalError", "internal error", nil},
		{"timeout name", `{"f":"test.svc:1.0:fail","p":{"name":"Timeout"}}`, "InternalError", "internal error", nil},
		{"plain error", `{"f":"test.svc:1.0:plainErr","p":{}}`, "InternalError", "internal error", nil},
		{"panic", `{"f":"test.svc:1.0:boom","p":{}}`, "InternalError", "internal error", nil},
		{"after panic", `{"f":"test.svc:1.0:scalar","p":{}}`, "", "", 3.0},
		{"unencodable result", `{"f":"test.svc:1.0:badResult","p":{}}`, "InternalError", "", nil},
		{"response too big", `{"f":"test.svc:1.0:big","p":{"n":5000}}`, "InternalError", "too big", nil},
		{"response fits", `{"f":"test.svc:1.0:big","p":{"n":10}}`, "", "", "xxxxxxxxxx"},
		{"rid echoed", `{"f":"test.svc:1.0:scalar","p":{},"rid":"C7"}`, "", "", 3.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := post(t, srv.HTTPURL(), tc.body)
			is.Equal(r.Status, http.StatusOK)
			is.Equal(r.CType, "application/futoin+json")
			if tc.e == "" {
				is.Equal(r.Msg["e"], nil) // no error
				is.Equal(r.Msg["r"], tc.r)
			} else {
				is.Equal(r.Msg["e"], tc.e)
				_, hasR := r.Msg["r"]
				is.True(!hasR) // no r with e
				edesc, _ := r.Msg["edesc"].(string)
				is.True(strings.Contains(edesc, tc.edesc)) // edesc
			}
			if strings.Contains(tc.body, `"rid":"C7"`) {
				is.Equal(r.Msg["rid"], "C7")
			} else {
				_, hasRid := r.Msg["rid"]
				is.True(!hasRid) // no rid when the request had none
			}
			// Nothing internal leaks.
			for _, secret := range []string{"hunter2", "secret panic value", "goroutine", "chan int"} {
				is.True(!strings.Contains(r.Raw, secret)) // leaked internals
			}
		})
	}

	is := is.New(t)
	mu.Lock()
	defer mu.Unlock()
	var sawPanic, sawPlain bool
	for _, err := range reported {
		sawPanic = sawPanic || strings.Contains(err.Error(), "secret panic value")
		sawPlain = sawPlain || strings.Contains(err.Error(), "hunter2")
	}
	is.True(sawPanic) // the hook saw the panic
	is.True(sawPlain) // the hook saw the plain error
}

func TestHTTPOversize(t *testing.T) {
	is := is.New(t)
	_, srv := start(t, executor.WithMaxMessageSize(1024))
	pad := func(n int) string {
		// a valid request of exactly n bytes
		head, tail := `{"f":"test.svc:1.0:echo","p":{"s":"`, `"}}`
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	r := post(t, srv.HTTPURL(), pad(1024))
	is.Equal(r.Msg["e"], nil) // exactly the limit is fine
	r = post(t, srv.HTTPURL(), pad(1025))
	is.Equal(r.Status, http.StatusOK)
	is.Equal(r.Msg["e"], "InvalidRequest")
	is.True(strings.Contains(r.Msg["edesc"].(string), "1024"))
	r = post(t, srv.HTTPURL(), pad(10<<20))
	is.Equal(r.Msg["e"], "InvalidRequest") // far too big: still a FutoIn answer
	r = post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:scalar","p":{}}`)
	is.Equal(r.Msg["r"], 3.0) // still serving
}

func TestHTTPContentType(t *testing.T) {
	_, srv := start(t)
	body := `{"f":"test.svc:1.0:scalar","p":{}}`
	for _, tc := range []struct {
		name   string
		header []string
		want   string
	}{
		{"plain", nil, "application/futoin+json"},
		{"vnd content-type", []string{"Content-Type", "application/vnd.futoin+json"}, "application/vnd.futoin+json"},
		{"vnd accept", []string{"Accept", "text/plain, application/vnd.futoin+json"}, "application/vnd.futoin+json"},
		{"vnd upper case", []string{"Accept", "Application/VND.FutoIn+JSON"}, "application/vnd.futoin+json"},
		{"lenient content-type", []string{"Content-Type", "application/json"}, "application/futoin+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := post(t, srv.HTTPURL(), body, tc.header...)
			is.Equal(r.CType, tc.want)
			is.Equal(r.Msg["r"], 3.0)
		})
	}
}

func TestHTTPMethod(t *testing.T) {
	_, srv := start(t)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		is := is.New(t)
		req, err := http.NewRequest(m, srv.HTTPURL(), nil)
		is.NoErr(err)
		r := do(t, req)
		is.Equal(r.Status, http.StatusMethodNotAllowed)
		is.True(strings.Contains(r.Raw, "POST"))
	}
}

func TestAuth(t *testing.T) {
	const password = "s3cr:et-pa55"
	var calls int
	var mu sync.Mutex
	check := func(_ context.Context, user, pass string) error {
		mu.Lock()
		calls++
		mu.Unlock()
		if user == "alice" && pass == password {
			return nil
		}
		return errors.New("bad password " + pass) // must never reach the wire
	}
	var hookText strings.Builder
	_, srv := start(t, executor.WithAuth(check), executor.WithErrorHook(func(_ *executor.Request, err error) {
		mu.Lock()
		hookText.WriteString(err.Error())
		mu.Unlock()
	}))
	_, noauth := start(t)

	req := func(sec string) string {
		return `{"f":"test.svc:1.0:whoami","p":{},"sec":"` + sec + `"}`
	}
	t.Run("ok", func(t *testing.T) {
		is := is.New(t)
		r := post(t, srv.HTTPURL(), req("alice:"+password)) // split at the first ':'
		is.Equal(r.Msg["r"], map[string]any{"user": "alice", "f": "test.svc:1.0:whoami"})
	})
	t.Run("anonymous", func(t *testing.T) {
		is := is.New(t)
		r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:whoami","p":{}}`)
		is.Equal(r.Msg["r"].(map[string]any)["user"], "")
	})
	t.Run("non-string sec is anonymous", func(t *testing.T) {
		is := is.New(t)
		r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:whoami","p":{},"sec":{"x":1}}`)
		is.Equal(r.Msg["r"].(map[string]any)["user"], "")
	})
	for _, tc := range []struct{ name, sec, desc string }{
		{"wrong password", "alice:" + password + "x", "authentication failed"},
		{"wrong user", "bob:" + password, "authentication failed"},
		{"no colon", password, "authentication failed"},
		{"empty user", ":" + password, "authentication failed"},
		{"hmac without a credential store", "-hmac:alice:" + password, "not enabled"},
		{"smac without a credential store", "-smac:alice:" + password, "not enabled"},
		{"internal", "-internal", "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := post(t, srv.HTTPURL(), req(tc.sec))
			is.Equal(r.Msg["e"], "SecurityError")
			is.True(strings.Contains(r.Msg["edesc"].(string), tc.desc))
			is.True(!strings.Contains(r.Raw, password)) // password leaked
			is.True(!strings.Contains(r.Raw, "alice"))  // user leaked
			// The handler never ran: whoami would have answered r.
			_, hasR := r.Msg["r"]
			is.True(!hasR)
		})
	}
	t.Run("auth not enabled", func(t *testing.T) {
		is := is.New(t)
		r := post(t, noauth.HTTPURL(), req("alice:"+password))
		is.Equal(r.Msg["e"], "SecurityError")
		is.Equal(r.Msg["edesc"], "authentication is not enabled")
		is.True(!strings.Contains(r.Raw, password))
	})
	t.Run("before routing", func(t *testing.T) {
		is := is.New(t)
		r := post(t, srv.HTTPURL(), `{"f":"test.nope:1.0:x","p":{},"sec":"alice:bad"}`)
		is.Equal(r.Msg["e"], "SecurityError")
	})

	is := is.New(t)
	mu.Lock()
	defer mu.Unlock()
	is.True(calls > 0)
	is.True(!strings.Contains(hookText.String(), password)) // hook never sees it
}

func TestHTTPTimeout(t *testing.T) {
	is := is.New(t)
	release := make(chan struct{})
	ex := executor.New(executor.WithRequestTimeout(50 * time.Millisecond))
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"block": testFuncs()["block"],
		// stuck ignores its context; the reply must not wait for it.
		"stuck": func(context.Context, *executor.Request) (any, error) {
			<-release
			return "late", nil
		},
	}))
	srv, err := ex.Listen("")
	is.NoErr(err)
	defer ex.Close()
	defer close(release) // runs before Close: Close waits for stuck

	r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:block","p":{},"rid":"C3"}`)
	is.Equal(r.Msg["e"], "InternalError")
	is.Equal(r.Msg["edesc"], "request timed out")
	is.Equal(r.Msg["rid"], "C3")
	r = post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:stuck","p":{}}`)
	is.Equal(r.Msg["e"], "InternalError")
	is.Equal(r.Msg["edesc"], "request timed out")
}

func TestNoTimeout(t *testing.T) {
	is := is.New(t)
	_, srv := start(t, executor.WithRequestTimeout(0))
	r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:scalar","p":{}}`)
	is.Equal(r.Msg["r"], 3.0)
	c := dial(t, srv.WSURL())
	m := call(t, c, `{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)
	is.Equal(m["r"], 3.0)
}

// TestServeHTTP mounts the Executor on an httptest server and checks that
// Executor.Close ends its WebSocket connections and handlers.
func TestServeHTTP(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	started := make(chan struct{})
	cancelled := make(chan struct{})
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"scalar": testFuncs()["scalar"],
		"wait": func(ctx context.Context, _ *executor.Request) (any, error) {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		},
	}))
	hs := httptest.NewServer(ex)
	defer hs.Close()

	r := post(t, hs.URL+"/ftn", `{"f":"test.svc:1.0:scalar","p":{}}`)
	is.Equal(r.Msg["r"], 3.0)

	c := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ftn")
	send(t, c, `{"f":"test.svc:1.0:wait","p":{},"rid":"C1"}`)
	<-started
	done := make(chan error, 1)
	go func() {
		for { // a last InternalError "request cancelled" may come first
			if _, _, err := c.Read(context.Background()); err != nil {
				done <- err
				return
			}
		}
	}()
	is.NoErr(ex.Close())
	<-cancelled            // Close cancelled the handler and waited for it
	is.True(<-done != nil) // the connection is closed

	r = post(t, hs.URL, `{"f":"test.svc:1.0:scalar","p":{}}`)
	is.Equal(r.Status, http.StatusServiceUnavailable)
	_, err := ex.Listen("")
	is.True(err != nil)  // closed
	is.NoErr(ex.Close()) // twice is fine
}
