package ccm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// advSpecs is the Set of testdata/advspecs, for the Invoker.
func advSpecs() *spec.Set { return spec.LoadDir("testdata/advspecs") }

// newAdvanced returns an AdvancedCCM over testdata/advspecs, closed at
// the end of the test.
func newAdvanced(t testing.TB, opts ...ccm.Option) *ccm.AdvancedCCM {
	t.Helper()
	a, err := ccm.NewAdvanced(advSpecs(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// advService is an executor serving test.adv:1.1 without any spec: it
// answers what the tests need the invoker to judge, right or wrong.
type advService struct {
	ex      *executor.Executor
	srv     *executor.Server
	served  atomic.Int64  // requests that reached a handler
	arrived chan string   // noResult's "a", when its handler starts
	release chan struct{} // closed to let noResult handlers return
	relOnce sync.Once
}

func newAdvService(t testing.TB) *advService {
	t.Helper()
	s := &advService{arrived: make(chan string, 16), release: make(chan struct{})}
	s.ex = executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "alice" && password == "pa:ss" {
			return nil
		}
		return errors.New("no")
	}), executor.WithCredentials(executor.Credentials{"alice": {MACKey: macKey(t)}}),
		executor.WithRequestTimeout(time.Minute))
	ok := map[string]any{"ok": "OK"}
	h := func(v any, err error) executor.Handler {
		return func(context.Context, *executor.Request) (any, error) {
			s.served.Add(1)
			return v, err
		}
	}
	whoami := func(_ context.Context, r *executor.Request) (any, error) {
		s.served.Add(1)
		return map[string]any{"user": r.User}, nil
	}
	funcs := map[string]executor.Handler{
		"testFunc": func(_ context.Context, r *executor.Request) (any, error) {
			s.served.Add(1)
			d, _ := r.Params["d"].(string)
			return map[string]any{"res": "MY_RESULT:" + d}, nil
		},
		"noResult": func(ctx context.Context, r *executor.Request) (any, error) {
			s.served.Add(1)
			a, _ := r.Params["a"].(string)
			s.arrived <- a
			if strings.HasPrefix(a, "block") {
				select {
				case <-s.release:
				case <-ctx.Done():
				}
			}
			return nil, nil
		},
		"customResult":      h(true, nil),
		"triggerError":      h(nil, ccm.NewError("MY_ERROR", "on purpose")),
		"wrongException":    h(nil, ccm.NewError("MY_ERROR", "on purpose")),
		"missingResultVar":  h(ok, nil),
		"wrongType":         h(map[string]any{"ok": "not an integer"}, nil),
		"extraVars":         h(map[string]any{"ok": "OK", "extra": 1}, nil),
		"rawResultExpected": h(ok, nil),
		"noParams":          h(ok, nil),
		"unknownParam":      h(ok, nil),
		"bigRequest":        h(ok, nil),
		"bigResponse": func(_ context.Context, r *executor.Request) (any, error) {
			s.served.Add(1)
			n, _ := r.Params["n"].(float64)
			return map[string]any{"s": strings.Repeat("x", int(n))}, nil
		},
		"whoami": whoami,
	}
	for iv, fs := range map[string]map[string]executor.Handler{
		"test.adv:1.1":    funcs,
		"test.auth:1.0":   {"whoami": whoami},
		"test.secure:1.0": {"whoami": whoami},
		"test.sig:1.0":    {"whoami": whoami},
		"test.bidi:1.0":   {"whoami": whoami},
		"test.bin:1.0": {"binaryPingPong": func(_ context.Context, r *executor.Request) (any, error) {
			return map[string]any{"pong": r.Params["ping"]}, nil
		}},
	} {
		if err := s.ex.Register(iv, fs); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := s.ex.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	t.Cleanup(func() {
		s.relOnce.Do(func() { close(s.release) })
		s.ex.Close()
	})
	return s
}

// advTransports registers test.adv:1.1 as "adv" on a over every transport
// and returns the names: ws, http, tcp, unix, local.
func advTransports(t *testing.T, s *advService, register func(name, url string)) []string {
	t.Helper()
	tcp, err := s.ex.ListenTCP("")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatal(err)
	}
	unix, err := s.ex.ListenUnix(dir + "/ftn.sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close(); unix.Close() })
	urls := map[string]string{"ws": s.srv.WSURL(), "http": s.srv.HTTPURL(), "tcp": tcp.URL(), "unix": unix.URL(), "local": ""}
	names := []string{"ws", "http", "tcp", "unix", "local"}
	for _, n := range names {
		register(n, urls[n])
	}
	return names
}

func registerAdv(t *testing.T, a *ccm.AdvancedCCM, s *advService, ifacever string, opts ...ccm.RegisterOption) []string {
	return advTransports(t, s, func(name, url string) {
		var err error
		if url == "" {
			err = a.RegisterLocal(bg, name, ifacever, s.ex, opts...)
		} else {
			err = a.Register(bg, name, ifacever, url, opts...)
		}
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	})
}

// wantErr asserts err is a FutoIn error name with exactly desc (if not
// empty).
func wantErr(t *testing.T, err error, name pipeline.ErrorName, desc string) {
	t.Helper()
	var fe *pipeline.Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want %s %q", err, name, desc)
	}
	if fe.Name != name || desc != "" && fe.Desc != desc {
		t.Fatalf("err = %s %q, want %s %q", fe.Name, fe.Desc, name, desc)
	}
}

// The reference's remote call matrix (REFERENCE-JS §9.2 items 16, 19,
// 24–29, 31–33) for the AdvancedCCM over every transport: params checked
// and defaults added before sending, results and errors checked after
// arrival, the size limits.
func TestAdvancedCallChecks(t *testing.T) {
	s := newAdvService(t)
	a := newAdvanced(t, ccm.RetryCount(0))
	for _, tr := range registerAdv(t, a, s, "test.adv:1.1") {
		t.Run(tr, func(t *testing.T) {
			is := is.New(t)
			it, err := a.Iface(tr)
			is.NoErr(err)
			ctx := bg
			p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3}, "i": 4}
			res, err := it.Call(ctx, "testFunc", p)
			is.NoErr(err)
			is.Equal(res, map[string]any{"res": "MY_RESULT:DefAult"}) // the default was sent
			_, has := p["d"]
			is.True(!has) // the caller's map is not written
			p2 := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4, "d": "mine"}
			res, err = it.Call(ctx, "testFunc", p2)
			is.NoErr(err)
			is.Equal(res, map[string]any{"res": "MY_RESULT:mine"})
			var out struct{ Res string }
			is.NoErr(it.CallInto(ctx, "testFunc", p, &out))
			is.Equal(out.Res, "MY_RESULT:DefAult")

			res, err = it.Call(ctx, "customResult", nil)
			is.NoErr(err)
			is.Equal(res, true)
			res, err = it.Call(ctx, "extraVars", nil)
			is.NoErr(err)
			is.Equal(res, map[string]any{"ok": "OK"}) // unknown result variables dropped

			_, err = it.Call(ctx, "triggerError", nil)
			wantErr(t, err, "MY_ERROR", "on purpose")
			_, err = it.Call(ctx, "wrongException", nil)
			wantErr(t, err, ccm.InternalError, "Not expected exception from Executor: wrongException() = MY_ERROR(on purpose)")
			_, err = it.Call(ctx, "missingResultVar", nil)
			wantErr(t, err, ccm.InternalError, "Missing result variable: missingResultVar(missing_var)")
			_, err = it.Call(ctx, "wrongType", nil)
			wantErr(t, err, ccm.InternalError, `Type mismatch for result variable: wrongType(ok) = "not an integer"`)
			_, err = it.Call(ctx, "rawResultExpected", nil)
			wantErr(t, err, ccm.InternalError, "Raw result is expected: rawResultExpected()")

			served := s.served.Load()
			_, err = it.Call(ctx, "unknownFunc", nil)
			wantErr(t, err, ccm.InvokerError, "Unknown interface function: test.adv:1.1:unknownFunc()")
			_, err = it.Call(ctx, "noParams", map[string]any{"a": 1})
			wantErr(t, err, ccm.InvokerError, "No params are defined: test.adv:1.1:noParams()")
			_, err = it.Call(ctx, "unknownParam", map[string]any{"a": "x", "b": "y"})
			wantErr(t, err, ccm.InvokerError, "Unknown parameter: test.adv:1.1:unknownParam(b)")
			_, err = it.Call(ctx, "unknownParam", map[string]any{})
			wantErr(t, err, ccm.InvokerError, "Missing parameter: test.adv:1.1:unknownParam(a)")
			_, err = it.Call(ctx, "testFunc", map[string]any{"a": 1, "n": 2.8, "o": map[string]any{}, "i": 4})
			wantErr(t, err, ccm.InvokerError, `Type mismatch for parameter: test.adv:1.1:testFunc(a) = "1"`)
			_, err = it.Call(ctx, "testFunc", map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4.5})
			wantErr(t, err, ccm.InvokerError, `Type mismatch for parameter: test.adv:1.1:testFunc(i) = "4.5"`)
			if tr != "local" { // nothing is encoded in process
				_, err = it.Call(ctx, "bigRequest", map[string]any{"s": strings.Repeat("y", 2000)})
				wantErr(t, err, ccm.InvokerError, "")
				is.True(strings.Contains(err.Error(), "maxreqsize"))
			}
			is.Equal(s.served.Load(), served) // none of them was sent

			res, err = it.Call(ctx, "bigResponse", map[string]any{"n": 10})
			is.NoErr(err)
			is.Equal(res, map[string]any{"s": "xxxxxxxxxx"})
			_, err = it.Call(ctx, "bigRequest", map[string]any{"s": strings.Repeat("y", 900)})
			is.NoErr(err)
			if tr != "local" {
				_, err = it.Call(ctx, "bigResponse", map[string]any{"n": 2000})
				wantErr(t, err, ccm.CommError, "")
				is.True(strings.Contains(err.Error(), "maxrspsize"))
			}
		})
	}
}

// A function without a result is sent without forcersp and, over the
// multiplexed transports, completes as soon as its frame is written:
// here while the executor's handler is still blocked. Over HTTP and in
// process it completes once the executor is done (see AdvancedCCM).
func TestAdvancedFireAndForget(t *testing.T) {
	s := newAdvService(t)
	a := newAdvanced(t, ccm.RetryCount(0))
	for _, tr := range registerAdv(t, a, s, "test.adv:1.1") {
		t.Run(tr, func(t *testing.T) {
			is := is.New(t)
			it, err := a.Iface(tr)
			is.NoErr(err)
			switch tr {
			case "ws", "tcp", "unix":
				res, err := it.Call(bg, "noResult", map[string]any{"a": "block-" + tr})
				is.NoErr(err)
				is.Equal(res, nil)
				is.Equal(<-s.arrived, "block-"+tr) // it did reach the executor, which is still running it
			default:
				res, err := it.Call(bg, "noResult", map[string]any{"a": tr})
				is.NoErr(err)
				is.Equal(res, nil)
				select {
				case a := <-s.arrived: // already there: the call waited for the executor
					is.Equal(a, tr)
				default:
					t.Fatal("the call completed before the executor got it")
				}
			}
		})
	}
}

// ftnPeer is a plain HTTP server on loopback that records request bodies
// and answers per function, for what an executor of ours never sends.
type ftnPeer struct {
	mu     sync.Mutex
	bodies []string
}

func (p *ftnPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.bodies = append(p.bodies, string(b))
	p.mu.Unlock()
	body := string(b)
	switch {
	case strings.Contains(body, ":noResult"):
		w.WriteHeader(http.StatusOK) // empty body, no FutoIn type
	case strings.Contains(body, ":rawDownload"), strings.Contains(body, ":wrongDataResult"):
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("MY_DOWNLOAD"))
	default:
		w.Header().Set("Content-Type", "application/futoin+json")
		_, _ = w.Write([]byte(`{"r":{"res":"MY_RESULT"}}`))
	}
}

// Over HTTP, against a peer that answers as the reference executor does:
// no forcersp on the wire, an empty body completes a function without
// result, raw data is the result of a rawresult function and an
// InternalError for any other (REFERENCE-JS §9.2 items 18, 23, 25).
func TestAdvancedHTTPRawAndEmpty(t *testing.T) {
	is := is.New(t)
	peer := &ftnPeer{}
	srv := httptest.NewServer(peer)
	defer srv.Close()
	a := newAdvanced(t, ccm.RetryCount(0))
	is.NoErr(a.Register(bg, "adv", "test.adv:1.1", srv.URL+"/ftn"))
	it, _ := a.Iface("adv")
	res, err := it.Call(bg, "noResult", map[string]any{"a": "123"})
	is.NoErr(err)
	is.Equal(res, nil)
	res, err = it.Call(bg, "rawDownload", nil)
	is.NoErr(err)
	is.Equal(res, []byte("MY_DOWNLOAD"))
	_, err = it.Call(bg, "wrongDataResult", nil)
	wantErr(t, err, ccm.InternalError, "Raw result is not expected: wrongDataResult()")
	res, err = it.Call(bg, "testFunc", map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4})
	is.NoErr(err)
	is.Equal(res, map[string]any{"res": "MY_RESULT"})
	peer.mu.Lock()
	bodies := append([]string(nil), peer.bodies...)
	peer.mu.Unlock()
	is.Equal(len(bodies), 4)
	for _, b := range bodies {
		is.True(!strings.Contains(b, "forcersp"))
	}
	is.True(strings.Contains(bodies[3], `"d":"DefAult"`))

	// The same peer through a SimpleCCM: forcersp, and the raw body is
	// not taken for a message.
	c := ccm.New(ccm.RetryCount(0))
	defer c.Close()
	is.NoErr(c.Register(bg, "adv", "test.adv:1.1", srv.URL+"/ftn"))
	sit, _ := c.Iface("adv")
	_, err = sit.Call(bg, "wrongDataResult", nil)
	wantErr(t, err, ccm.CommError, "")
	peer.mu.Lock()
	defer peer.mu.Unlock()
	is.True(strings.Contains(peer.bodies[len(peer.bodies)-1], `"forcersp":true`))
}

// Constraints at registration (REFERENCE-JS §1.2, §6.6; INVOKER.md §3.3)
// and what they do to calls.
func TestAdvancedConstraints(t *testing.T) {
	s := newAdvService(t)
	ws, http := s.srv.WSURL(), s.srv.HTTPURL()
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatal(err)
	}
	unix, err := s.ex.ListenUnix(dir + "/ftn.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	a := newAdvanced(t, ccm.RetryCount(0))
	reg := func(name, ifacever, url string, opts ...ccm.RegisterOption) error {
		return a.Register(bg, name, ifacever, url, opts...)
	}
	whoami := func(t *testing.T, name string) string {
		t.Helper()
		it, err := a.Iface(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := it.Call(bg, "whoami", nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.(map[string]any)["user"].(string)
	}
	alice := ccm.Credentials("alice:pa:ss")

	t.Run("AllowAnonymous", func(t *testing.T) {
		is := is.New(t)
		wantErr(t, reg("auth1", "test.auth:1.0", ws), ccm.SecurityError, "Requires authenticated user")
		wantErr(t, reg("auth1", "test.auth:1.0", http), ccm.SecurityError, "Requires authenticated user")
		is.NoErr(reg("auth1", "test.auth:1.0", ws, alice))
		is.Equal(whoami(t, "auth1"), "alice")
		// In process, without credentials: "-internal" for an interface
		// without AllowAnonymous, anonymous for one with it.
		is.NoErr(a.RegisterLocal(bg, "auth2", "test.auth:1.0", s.ex))
		is.Equal(whoami(t, "auth2"), executor.InternalUser)
		is.NoErr(a.RegisterLocal(bg, "anon", "test.adv:1.1", s.ex))
		is.Equal(whoami(t, "anon"), "")
		is.NoErr(a.RegisterLocal(bg, "anon2", "test.adv:1.1", s.ex, alice))
		is.Equal(whoami(t, "anon2"), "alice")
		// The SimpleCCM sends -internal whatever the interface.
		c := ccm.New()
		defer c.Close()
		is.NoErr(c.RegisterLocal(bg, "anon", "test.adv:1.1", s.ex))
		it, _ := c.Iface("anon")
		res, err := it.Call(bg, "whoami", nil)
		is.NoErr(err)
		is.Equal(res.(map[string]any)["user"], executor.InternalUser)
	})
	t.Run("SecureChannel", func(t *testing.T) {
		is := is.New(t)
		wantErr(t, reg("sec1", "test.secure:1.0", ws), ccm.SecurityError, "SecureChannel is required")
		wantErr(t, reg("sec1", "test.secure:1.0", http), ccm.SecurityError, "SecureChannel is required")
		is.NoErr(reg("sec1", "test.secure:1.0", "secure+"+ws))
		is.Equal(whoami(t, "sec1"), "")
		is.NoErr(reg("sec2", "test.secure:1.0", unix.URL()))
		is.Equal(whoami(t, "sec2"), "")
		is.NoErr(a.RegisterLocal(bg, "sec3", "test.secure:1.0", s.ex))
	})
	t.Run("MessageSignature", func(t *testing.T) {
		is := is.New(t)
		wantErr(t, reg("sig1", "test.sig:1.0", ws), ccm.SecurityError, "MessageSignature is required")
		wantErr(t, reg("sig1", "test.sig:1.0", ws, alice), ccm.SecurityError, "MessageSignature is required")
		is.NoErr(reg("sig1", "test.sig:1.0", ws, ccm.Credentials("-smac:alice"), ccm.MACKeyBase64(testKeyB64, "")))
		is.Equal(whoami(t, "sig1"), "alice")                        // signed, verified, answered signed
		is.NoErr(a.RegisterLocal(bg, "sig2", "test.sig:1.0", s.ex)) // an internal channel will do
		is.Equal(whoami(t, "sig2"), "")                             // AllowAnonymous: no -internal
	})
	t.Run("BiDirectChannel", func(t *testing.T) {
		is := is.New(t)
		wantErr(t, reg("bidi", "test.bidi:1.0", http), ccm.InvokerError, "BiDirectChannel is required")
		wantErr(t, reg("bidi", "test.bidi:1.0", "secure+"+http), ccm.InvokerError, "BiDirectChannel is required")
		is.NoErr(reg("bidi", "test.bidi:1.0", ws))
		is.Equal(whoami(t, "bidi"), "")
		is.NoErr(reg("bidi2", "test.bidi:1.0", unix.URL()))
		is.NoErr(a.RegisterLocal(bg, "bidi3", "test.bidi:1.0", s.ex))
	})
	t.Run("BinaryData", func(t *testing.T) {
		is := is.New(t)
		wantErr(t, reg("bin", "test.bin:1.0", ws, ccm.Coder("JSON")), ccm.InvokerError, "")
		ping := []byte{0, 1, 2, 0xff, 0xfe, 'x', 0, 7, 8, 9, 10, 11, 12, 13, 14, 15}
		for name, opts := range map[string][]ccm.RegisterOption{
			"binws": nil, "binhttp": nil, "bincbor": {ccm.Coder("CBOR")},
		} {
			url := ws
			if name == "binhttp" {
				url = http
			}
			is.NoErr(reg(name, "test.bin:1.0", url, opts...))
			it, _ := a.Iface(name)
			res, err := it.Call(bg, "binaryPingPong", map[string]any{"ping": ping})
			is.NoErr(err)
			is.Equal(res.(map[string]any)["pong"], ping)
			_, err = it.Call(bg, "binaryPingPong", map[string]any{"ping": "not data"})
			wantErr(t, err, ccm.InvokerError, `Type mismatch for parameter: test.bin:1.0:binaryPingPong(ping) = "not data"`)
		}
		// Without the constraint the default coder stays JSON, which cannot
		// carry data: the SimpleCCM fails such a call before sending.
		c := ccm.New()
		defer c.Close()
		is.NoErr(c.Register(bg, "bin", "test.bin:1.0", ws))
		it, _ := c.Iface("bin")
		_, err := it.Call(bg, "binaryPingPong", map[string]any{"ping": ping})
		wantErr(t, err, ccm.InvokerError, "")
	})
	t.Run("Spec", func(t *testing.T) {
		is := is.New(t)
		// REFERENCE-JS §9.3 item 45: a missing spec.
		wantErr(t, reg("none", "test.none:1.0", ws), ccm.InternalError, "Failed to load valid spec for test.none:1.0")
		wantErr(t, reg("none", "test.adv:1.0", ws), ccm.InternalError, "Failed to load valid spec for test.adv:1.0")
		wantErr(t, reg("", "test.adv:1.1", ws), ccm.InvokerError, "")
		wantErr(t, reg("bad", "test.adv:1", ws), ccm.InvokerError, "")
		_, err := a.Iface("none")
		wantErr(t, err, ccm.InvokerError, "")
		_, err = ccm.NewAdvanced(nil)
		wantErr(t, err, ccm.InvokerError, "")
		_, err = ccm.NewAdvanced(spec.LoadDir("testdata/advspecs", spec.WithRole(spec.Executor)))
		wantErr(t, err, ccm.InvokerError, "")
		is.Equal(a.Specs().Role(), spec.Invoker)
	})
}

// assertIface honours inheritance on an AdvancedCCM (REFERENCE-JS §9.1
// item 14) and Info gives the definition's data (§9.3 items 40, 42).
func TestAdvancedAssertIfaceAndInfo(t *testing.T) {
	is := is.New(t)
	s := newAdvService(t)
	a := newAdvanced(t)
	is.NoErr(a.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()))
	is.NoErr(a.Alias("adv", "alias"))
	for _, iv := range []string{"test.adv:1.1", "test.adv:1.0", "test.base:1.0", "test.base:1.0"} {
		is.NoErr(a.AssertIface("adv", iv))
		is.NoErr(a.AssertIface("alias", iv))
	}
	for _, iv := range []string{"test.adv:1.2", "test.adv:0.1", "test.base:1.1", "test.base:2.0", "test.auth:1.0"} {
		wantErr(t, a.AssertIface("adv", iv), ccm.InvokerError, "")
	}
	it, _ := a.Iface("adv")
	info := it.Info()
	is.Equal(info.Name, "test.adv")
	is.Equal(info.Version, "1.1")
	is.Equal(info.Inherits, []string{"test.base:1.0"})
	is.Equal(info.Constraints, []string{"AllowAnonymous"})
	is.Equal(info.Funcs[0], "testFunc")
	is.True(len(info.Funcs) == 17) // 16 own, pingPong inherited
	is.Equal(info.Funcs[len(info.Funcs)-1], "pingPong")
	is.True(it.Spec() != nil)

	// The SimpleCCM knows no ancestors, and Info only name and version.
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()))
	wantErr(t, c.AssertIface("adv", "test.base:1.0"), ccm.InvokerError, "")
	sit, _ := c.Iface("adv")
	is.Equal(sit.Info(), ccm.IfaceInfo{Name: "test.adv", Version: "1.1"})
	is.True(sit.Spec() == nil)
}

// Concurrent spec-checked calls, valid and invalid, on one endpoint:
// every call completes exactly once with its own outcome.
func TestAdvancedConcurrentCalls(t *testing.T) {
	s := newAdvService(t)
	a := newAdvanced(t)
	if err := a.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()); err != nil {
		t.Fatal(err)
	}
	it, _ := a.Iface("adv")
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": k}
				if k%5 == 0 {
					p["i"] = "x"
				}
				res, err := it.Call(bg, "testFunc", p)
				switch {
				case k%5 == 0 && ccm.NameOf(err) == ccm.InvokerError:
				case k%5 != 0 && err == nil && res.(map[string]any)["res"] == "MY_RESULT:DefAult":
				default:
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d calls had the wrong outcome", bad.Load())
	}
}

// REFERENCE-JS §9.1 item 15: an interface requiring BinaryData gets the
// MPCK coder by default, others JSON; Coder overrides it.
func TestAdvancedBinaryDataCoder(t *testing.T) {
	is := is.New(t)
	types := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		types <- r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/futoin+json")
		_, _ = w.Write([]byte(`{"e":"NotImplemented"}`))
	}))
	defer srv.Close()
	a := newAdvanced(t, ccm.RetryCount(0))
	is.NoErr(a.Register(bg, "bin", "test.bin:1.0", srv.URL))
	is.NoErr(a.Register(bg, "cbor", "test.bin:1.0", srv.URL, ccm.Coder("CBOR")))
	is.NoErr(a.Register(bg, "adv", "test.adv:1.1", srv.URL))
	for name, want := range map[string]string{
		"bin": "application/futoin+msgpack", "cbor": "application/futoin+cbor", "adv": "application/futoin+json",
	} {
		it, _ := a.Iface(name)
		fn, p := "binaryPingPong", map[string]any{"ping": []byte{1}}
		if name == "adv" {
			fn, p = "noParams", nil
		}
		_, err := it.Call(bg, fn, p)
		is.Equal(ccm.NameOf(err), ccm.NotImplemented) // a standard error passes the check
		is.Equal(<-types, want)
	}
}

func macKey(t testing.TB) []byte {
	t.Helper()
	k, err := mac.DecodeKey(testKeyB64)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
