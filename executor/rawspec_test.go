package executor_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

const rawChkDef = `{"iface": "test.rawchk", "version": "1.0", "ftn3rev": "1.3",
	"requires": ["AllowAnonymous"],
	"funcs": {
		"put": {"rawupload": true, "params": {
				"n": {"type": "integer"},
				"x": {"type": "number", "default": 1.5},
				"b": {"type": "boolean", "default": false},
				"m": {"type": "map", "default": null},
				"a": {"type": "any", "default": null},
				"s": {"type": "string", "default": "d"}},
			"result": {"seen": {"type": "string"}}},
		"get": {"rawresult": true, "params": {"n": {"type": "integer"}}, "throws": ["MyErr"]},
		"bad": {"rawupload": true, "result": {"ok": {"type": "boolean"}}},
		"priv": {"rawresult": true, "seclvl": "PrivilegedOps"},
		"echo": {"params": {"v": {"type": "string"}}, "result": {"v": {"type": "string"}}}
	}}`

const rawSecDef = `{"iface": "test.rawsec", "version": "1.0", "ftn3rev": "1.2",
	"requires": ["SecureChannel"],
	"funcs": {"get": {"rawresult": true}}}`

const rawAuthDef = `{"iface": "test.rawauth", "version": "1.0", "ftn3rev": "1.2",
	"funcs": {"get": {"rawresult": true}}}`

// rawChk serves test.rawchk:1.0 and test.rawsec:1.0 with their definitions
// and counts the handler calls by function name.
func rawChk(t *testing.T) (base string, reached map[string]*atomic.Int64, ex *executor.Executor) {
	t.Helper()
	is := is.New(t)
	set := spec.New(spec.WithRole(spec.Executor), spec.JSON([]byte(rawChkDef)), spec.JSON([]byte(rawSecDef)), spec.JSON([]byte(rawAuthDef)))
	ex = executor.New(executor.WithSpecs(set), executor.WithAuth(func(_ context.Context, u, p string) error {
		if u == "bob" && p == "pw" {
			return nil
		}
		return io.EOF
	}))
	reached = map[string]*atomic.Int64{}
	for _, fn := range []string{"put", "get", "bad", "priv", "sec", "auth", "echo"} {
		reached[fn] = new(atomic.Int64)
	}
	is.NoErr(ex.RegisterRaw("test.rawchk:1.0", map[string]executor.RawFunc{
		"put": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			reached["put"].Add(1)
			var keys []string
			for _, k := range []string{"n", "x", "b", "m", "a", "s"} {
				keys = append(keys, fmt.Sprintf("%s=%T:%v", k, r.Params[k], r.Params[k]))
			}
			return map[string]any{"seen": strings.Join(keys, " ")}, nil
		}},
		"get": {Result: true, Handler: func(_ context.Context, r *executor.RawRequest, out *executor.RawOutput) (any, error) {
			reached["get"].Add(1)
			switch r.Params["n"] {
			case int64(1):
				return nil, pipeline.NewError("MyErr", "declared")
			case int64(2):
				return nil, pipeline.NewError("OtherErr", "undeclared")
			}
			return fmt.Sprintf("raw:%T", r.Params["n"]), nil
		}},
		"bad": {Upload: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			reached["bad"].Add(1)
			return map[string]any{"ok": "no"}, nil
		}},
		"priv": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			reached["priv"].Add(1)
			return "secret", nil
		}},
	}))
	is.NoErr(ex.Register("test.rawchk:1.0", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) {
			reached["echo"].Add(1)
			return map[string]any{"v": r.Params["v"]}, nil
		},
	}))
	is.NoErr(ex.RegisterRaw("test.rawsec:1.0", map[string]executor.RawFunc{
		"get": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			reached["sec"].Add(1)
			return "secure", nil
		}},
	}))
	is.NoErr(ex.RegisterRaw("test.rawauth:1.0", map[string]executor.RawFunc{
		"get": {Result: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			reached["auth"].Add(1)
			return "user:" + r.User, nil
		}},
	}))
	srv := listen(t, ex)
	return srv.HTTPURL() + "ftn/", reached, ex
}

func rawGet(t *testing.T, url string, sec ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sec) == 2 {
		req.SetBasicAuth(sec[0], sec[1])
	}
	return do(t, req)
}

// Query strings reach the handler as the declared types, with defaults.
func TestRawSpecTypedParams(t *testing.T) {
	is := is.New(t)
	base, reached, _ := rawChk(t)
	r := post(t, base+"test.rawchk/1.0/put?n=7&x=2&b=true&m=%7B%22k%22%3A1%7D&a=%5B1%5D&s=12", "up")
	is.Equal(r.Msg["r"], map[string]any{"seen": "n=int64:7 x=int64:2 b=bool:true m=map[string]interface {}:map[k:1] a=[]interface {}:[1] s=string:12"})
	r = post(t, base+"test.rawchk/1.0/put?n=-3&x=0.25&a=word", "up")
	is.Equal(r.Msg["r"], map[string]any{"seen": "n=int64:-3 x=float64:0.25 b=bool:false m=<nil>:<nil> a=string:word s=string:d"})
	is.Equal(reached["put"].Load(), int64(2))

	ct, body := doRaw(t, mustReq(t, http.MethodGet, base+"test.rawchk/1.0/get?n=5"))
	is.Equal(ct, "application/octet-stream")
	is.Equal(body, "raw:int64")

	// A message POST to a raw function: params are already typed.
	ct, body = doRaw(t, mustPost(t, base, `{"f":"test.rawchk:1.0:get","p":{"n":5}}`))
	is.Equal(body, "raw:float64")
	_ = ct
	r = post(t, base, `{"f":"test.rawchk:1.0:get","p":{"n":"5"}}`)
	is.Equal(r.Msg["e"], "InvalidRequest") // a message's string is not converted
}

// Bad params are InvalidRequest and never reach the handler.
func TestRawSpecBadParams(t *testing.T) {
	is := is.New(t)
	base, reached, _ := rawChk(t)
	for _, q := range []string{
		"n=1.5",           // not an integer
		"n=x",             // not a number
		"n=1&b=yes",       // not a boolean
		"n=1&m=%5B1%5D",   // an array for a map
		"n=1&m=%7Bbroken", // not JSON
		"x=1",             // n missing
		"n=1&zz=1",        // unknown
	} {
		r := post(t, base+"test.rawchk/1.0/put?"+q, "up")
		is.Equal(r.Msg["e"], "InvalidRequest") // q
	}
	r := post(t, base+"test.rawchk/1.0/put?n=x", "up")
	is.True(strings.Contains(r.Msg["edesc"].(string), "Type mismatch for parameter")) // the reference's message
	is.Equal(reached["put"].Load(), int64(0))
}

// Constraints and seclvl apply before the handler.
func TestRawSpecAccess(t *testing.T) {
	is := is.New(t)
	base, reached, _ := rawChk(t)

	r := rawGet(t, base+"test.rawsec/1.0/get", "bob", "pw")
	is.Equal(r.Msg["e"], "SecurityError")
	is.Equal(r.Msg["edesc"], "Insecure channel")
	r = rawGet(t, base+"test.rawsec/1.0/get")
	is.Equal(r.Msg["e"], "SecurityError") // anonymous: refused all the same
	is.Equal(reached["sec"].Load(), int64(0))

	r = rawGet(t, base+"test.rawchk/1.0/priv", "bob", "pw") // SafeOps
	is.Equal(r.Msg["e"], "PleaseReauth")
	is.Equal(r.Msg["edesc"], "PrivilegedOps")
	r = rawGet(t, base+"test.rawchk/1.0/priv")
	is.Equal(r.Msg["e"], "PleaseReauth")
	is.Equal(reached["priv"].Load(), int64(0))
	is.True(!strings.Contains(r.Raw, "secret"))
}

// rawupload, throws and results follow the definition.
func TestRawSpecFlagsErrorsResults(t *testing.T) {
	is := is.New(t)
	base, reached, _ := rawChk(t)

	r := post(t, base+"test.rawchk/1.0/get?n=5", "up")
	is.Equal(r.Msg["e"], "InvalidRequest")
	is.Equal(r.Msg["edesc"], "Raw upload is not allowed: get()")
	r = post(t, base+"test.rawchk/1.0/echo?v=a", "up") // a plain function
	is.Equal(r.Msg["e"], "InvalidRequest")
	is.Equal(r.Msg["edesc"], "Raw upload is not allowed: echo()")
	is.Equal(reached["get"].Load(), int64(0))
	is.Equal(reached["echo"].Load(), int64(0))

	r = rawGet(t, base+"test.rawchk/1.0/get?n=1")
	is.Equal(r.Msg["e"], "MyErr") // declared
	r = rawGet(t, base+"test.rawchk/1.0/get?n=2")
	is.Equal(r.Msg["e"], "InternalError") // not in throws
	is.Equal(r.Msg["edesc"], "Not expected error")
	is.Equal(reached["get"].Load(), int64(2))

	r = post(t, base+"test.rawchk/1.0/bad", "up")
	is.Equal(r.Msg["e"], "InternalError") // result does not match
	is.Equal(reached["bad"].Load(), int64(1))
}

// RegisterRaw refuses flags that disagree with the definition.
func TestRawSpecRegisterFlags(t *testing.T) {
	is := is.New(t)
	set := spec.New(spec.WithRole(spec.Executor), spec.JSON([]byte(rawChkDef)))
	ex := executor.New(executor.WithSpecs(set))
	defer ex.Close()
	h := func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) { return nil, nil }
	is.True(ex.RegisterRaw("test.rawchk:1.0", map[string]executor.RawFunc{"get": {Upload: true, Handler: h}}) != nil)  // rawresult, not rawupload
	is.True(ex.RegisterRaw("test.rawchk:1.0", map[string]executor.RawFunc{"nope": {Upload: true, Handler: h}}) != nil) // not defined
	is.NoErr(ex.RegisterRaw("test.rawchk:1.0", map[string]executor.RawFunc{"get": {Result: true, Handler: h}}))
}

func mustReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func mustPost(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/futoin+json")
	return req
}

// What the constraints allow reaches the handler: a secure channel, an
// authenticated caller.
func TestRawSpecAccessAllowed(t *testing.T) {
	is := is.New(t)
	base, reached, ex := rawChk(t)

	r := rawGet(t, base+"test.rawauth/1.0/get")
	is.Equal(r.Msg["e"], "SecurityError")
	is.Equal(r.Msg["edesc"], "Anonymous not allowed")
	is.Equal(reached["auth"].Load(), int64(0))
	req := mustReq(t, http.MethodGet, base+"test.rawauth/1.0/get")
	req.SetBasicAuth("bob", "pw")
	_, body := doRaw(t, req)
	is.Equal(body, "user:bob")
	is.Equal(reached["auth"].Load(), int64(1))

	srvCfg, pool := testCert(t)
	secure, err := ex.ListenTLS("", srvCfg)
	is.NoErr(err)
	defer secure.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	req = mustReq(t, http.MethodGet, secure.HTTPURL()+"ftn/test.rawsec/1.0/get")
	req.SetBasicAuth("bob", "pw")
	rsp, err := client.Do(req)
	is.NoErr(err)
	b, err := io.ReadAll(rsp.Body)
	is.NoErr(err)
	is.NoErr(rsp.Body.Close())
	is.Equal(string(b), "secure")
	is.Equal(reached["sec"].Load(), int64(1))
}
