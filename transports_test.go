package ccm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
)

// streamURLs starts TCP and UNIX stream servers for s's executor.
func streamURLs(t testing.TB, s *service) map[string]string {
	t.Helper()
	tcp, err := s.ex.ListenTCP("")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatal(err)
	}
	unix, err := s.ex.ListenUnix(filepath.Join(dir, "ftn.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close(); unix.Close() })
	return map[string]string{"tcp": tcp.URL(), "unix": unix.URL()}
}

// shortTempDir is a temporary directory whose path fits a UNIX socket
// name (about 100 bytes), which t.TempDir's long names may not.
func shortTempDir(t testing.TB) (string, error) {
	if dir := t.TempDir(); len(dir) < 80 {
		return dir, nil
	}
	dir, err := os.MkdirTemp("/tmp", "ftn")
	if err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	return dir, err
}

// registerLocal registers s's executor in process as "svc".
func registerLocal(t testing.TB, c *ccm.CCM, h pipeline.Handler, opts ...ccm.RegisterOption) *ccm.Iface {
	t.Helper()
	if err := c.RegisterLocal(bg, "svc", "test.svc:1.0", h, opts...); err != nil {
		t.Fatal(err)
	}
	it, err := c.Iface("svc")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// Calls over tcp://, unix:// and in process give the same results and
// errors as over ws and http, and each endpoint knows whether its channel
// is secure.
func TestStreamAndLocalCalls(t *testing.T) {
	s := newService(t)
	urls := streamURLs(t, s)
	urls["local"] = ""
	for scheme, url := range urls {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			var it *ccm.Iface
			if scheme == "local" {
				it = registerLocal(t, c, s.ex, ccm.Credentials("alice:pa:ss"))
			} else {
				it = register(t, c, url, ccm.Credentials("alice:pa:ss"))
			}
			is.Equal(it.Secure(), scheme != "tcp") // unix and in-process channels are secure

			res, err := it.Call(bg, "echo", map[string]any{"msg": "héllo"})
			is.NoErr(err)
			is.Equal(res, map[string]any{"msg": "héllo"})
			var who struct {
				User string `json:"user"`
			}
			is.NoErr(it.CallInto(bg, "whoami", nil, &who))
			is.Equal(who.User, "alice") // credentials reached the executor
			res, err = it.Call(bg, "typed", nil)
			is.NoErr(err)
			is.Equal(res, 42.0)
			_, err = it.Call(bg, "fail", nil)
			is.Equal(ccm.NameOf(err), ccm.ErrorName("MyError"))
			is.True(ccm.IsRemote(err))
			_, err = it.Call(bg, "nope", nil)
			is.Equal(ccm.NameOf(err), ccm.NotImplemented)
		})
	}
	t.Run("secure+tcp", func(t *testing.T) {
		is := is.New(t)
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
		defer c.Close()
		it := register(t, c, "secure+"+urls["tcp"])
		is.True(it.Secure())
		res, err := it.Call(bg, "echo", map[string]any{"msg": "m"})
		is.NoErr(err)
		is.Equal(res, map[string]any{"msg": "m"})
	})
}

// In process, without credentials, calls carry "-internal" and run as the
// internal user; the handler never runs on the caller's goroutine (no
// Invoker frame on its stack); it gets its own copy of the params.
func TestLocalInternal(t *testing.T) {
	is := is.New(t)
	var stack atomic.Value
	ex := executor.New()
	defer ex.Close()
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"whoami": func(_ context.Context, r *executor.Request) (any, error) {
			stack.Store(string(debug.Stack()))
			r.Params["touched"] = true
			return map[string]any{"user": r.User}, nil
		},
	}))
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := registerLocal(t, c, ex)
	params := map[string]any{"a": 1}
	res, err := it.Call(bg, "whoami", params)
	is.NoErr(err)
	is.Equal(res, map[string]any{"user": executor.InternalUser})
	st := stack.Load().(string)
	is.True(!strings.Contains(st, "ccm.(*Iface)"))       // no Invoker frame on the handler's stack
	is.True(!strings.Contains(st, "(*Pipeline).Submit")) // not even the pipeline's entry
	is.Equal(params, map[string]any{"a": 1})             // the caller's map is untouched

	// Explicit "-internal" is the same; MAC credentials and a nil handler
	// are refused.
	is.NoErr(c.RegisterLocal(bg, "explicit", "test.svc:1.0", ex, ccm.Credentials("-internal")))
	it2, _ := c.Iface("explicit")
	res, err = it2.Call(bg, "whoami", nil)
	is.NoErr(err)
	is.Equal(res, map[string]any{"user": executor.InternalUser})
	isInvokerError(t, c.RegisterLocal(bg, "mac", "test.svc:1.0", ex, ccm.Credentials("-smac:u"), ccm.MACKey([]byte("k"), "")))
	isInvokerError(t, c.RegisterLocal(bg, "nil", "test.svc:1.0", nil))
	isInvokerError(t, c.RegisterLocal(bg, "svc", "test.svc:1.0", ex)) // taken
	isInvokerError(t, c.RegisterLocal(bg, "badver", "test.svc", ex))
}

// In process: the caller's context reaches the handler; there is no call
// timeout unless one is set; with one, the call times out.
func TestLocalTimeouts(t *testing.T) {
	s := newService(t)
	t.Run("context", func(t *testing.T) {
		is := is.New(t)
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.CallTimeout(time.Hour))
		defer c.Close()
		it := registerLocal(t, c, s.ex)
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		defer cancel()
		_, err := it.Call(ctx, "wait", nil)
		is.True(errors.Is(err, ccm.ErrTimeout))
	})
	t.Run("call timeout", func(t *testing.T) {
		is := is.New(t)
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
		defer c.Close()
		it := registerLocal(t, c, s.ex, ccm.CallTimeout(20*time.Millisecond))
		_, err := it.Call(bg, "wait", nil)
		is.True(errors.Is(err, ccm.ErrTimeout))
	})
}

// tcp and unix multiplex: many calls in flight on one connection.
func TestStreamMultiplexes(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	tcp, err := s.ex.ListenTCP("")
	is.NoErr(err)
	defer tcp.Close()
	px := newProxy(t, tcp.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, "tcp://"+px.addr())
	const n = 200
	calls := make([]*ccm.Call, n)
	for i := range calls {
		calls[i] = it.Go(bg, "wait", nil, nil)
	}
	for i := 0; i < n; i++ {
		<-s.arrived // all n are in the service at once
	}
	s.releaseAll()
	for _, call := range calls {
		res, err := call.Wait()
		is.NoErr(err)
		is.Equal(res, map[string]any{"ok": true})
	}
	is.Equal(px.connections(), 1) // one connection carried them all
}

// A tcp connection dropped mid-call fails the call with CommError; the
// next call dials again. Nothing listening is a ConnectError.
func TestStreamConnectionLoss(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	tcp, err := s.ex.ListenTCP("")
	is.NoErr(err)
	defer tcp.Close()
	px := newProxy(t, tcp.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, "tcp://"+px.addr())
	call := it.Go(bg, "wait", nil, nil)
	<-s.arrived
	px.cut()
	_, err = call.Wait()
	is.True(errors.Is(err, ccm.ErrCommError))
	res, err := it.Call(bg, "echo", map[string]any{"msg": "again"})
	is.NoErr(err)
	is.Equal(res, map[string]any{"msg": "again"})
	is.Equal(px.connections(), 2)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	dead := "tcp://" + ln.Addr().String()
	ln.Close()
	is.NoErr(c.Register(bg, "dead", "test.svc:1.0", dead))
	it2, _ := c.Iface("dead")
	_, err = it2.Call(bg, "echo", nil)
	is.True(errors.Is(err, ccm.ErrConnectError))
}

// A response bigger than the invoker's limit closes the connection and
// fails the call with CommError, without reading the body; the next call
// dials again.
func TestStreamResponseOverLimit(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"big": func(_ context.Context, r *executor.Request) (any, error) {
			n, _ := r.Params["n"].(float64)
			return strings.Repeat("x", int(n)), nil
		},
	}))
	dir, err := shortTempDir(t)
	is.NoErr(err)
	srv, err := ex.ListenUnix(filepath.Join(dir, "big.sock"))
	is.NoErr(err)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxMessageSize(200), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, srv.URL())
	_, err = it.Call(bg, "big", map[string]any{"n": 300})
	is.True(errors.Is(err, ccm.ErrCommError))
	is.True(strings.Contains(err.Error(), "limit")) // why
	res, err := it.Call(bg, "big", map[string]any{"n": 3})
	is.NoErr(err) // the next call dials again
	is.Equal(res, "xxx")
}

// testCert returns a server TLS config with a fresh self-signed ECDSA
// certificate for 127.0.0.1, and a client pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ftnpipe test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// https:// and wss:// against an executor serving TLS with a certificate
// made here: trusted through ccm.TLSConfig the calls work and the
// endpoints are secure; without that trust every call is a ConnectError,
// nothing reaches the executor and the error holds no secret.
func TestTLS(t *testing.T) {
	s := newService(t)
	srvCfg, pool := testCert(t)
	srv, err := s.ex.ListenTLS("127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	is.New(t).True(strings.HasPrefix(srv.HTTPURL(), "https://") && strings.HasPrefix(srv.WSURL(), "wss://"))
	for _, url := range []string{srv.HTTPURL(), srv.WSURL()} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.TLSConfig(&tls.Config{RootCAs: pool}))
			defer c.Close()
			it := register(t, c, url, ccm.Credentials("alice:pa:ss"))
			is.True(it.Secure())
			var who struct {
				User string `json:"user"`
			}
			is.NoErr(it.CallInto(bg, "whoami", nil, &who))
			is.Equal(who.User, "alice")

			before := s.calls.Load()
			untrusted := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
			defer untrusted.Close()
			it2 := register(t, untrusted, url, ccm.Credentials("alice:pa:ss"))
			_, err := it2.Call(bg, "echo", map[string]any{"msg": "x"})
			is.True(errors.Is(err, ccm.ErrConnectError)) // untrusted certificate
			is.True(!strings.Contains(err.Error(), "pa:ss"))
			is.Equal(s.calls.Load(), before) // nothing was served
		})
	}
	_, err = s.ex.ListenTLS("", &tls.Config{})
	is.New(t).True(err != nil) // no certificate
}

// Function names reach the executor intact, also beyond the Iface's cache
// of "iface:ver:func" strings.
func TestManyFunctionNames(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) { return r.Func, nil },
	}))
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := registerLocal(t, c, ex)
	for i := 0; i < 100; i++ {
		for _, fn := range []string{"echo", "f" + strconv.Itoa(i)} {
			res, err := it.Call(bg, fn, nil)
			if fn == "echo" {
				is.NoErr(err)
				is.Equal(res, "echo")
				continue
			}
			is.Equal(ccm.NameOf(err), ccm.NotImplemented)
			is.True(strings.Contains(err.Error(), fn)) // the name that was sent
		}
	}
}
