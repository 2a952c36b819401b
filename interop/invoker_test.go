//go:build interop

package interop_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// What the reference executor (futoin-executor 2.3.7) answers, observed on
// the wire with server.js; the tests pin these exact values.
const (
	// fail(): MyError is declared in throws and reaches the caller as raised.
	declaredName = "MyError"
	declaredDesc = "fail() always fails"
	// undeclared(): NotDeclaredError is not in throws; the executor replaces it.
	undeclaredDesc = "Not expected error"
	// ftnpipe.secure with a wrong password or an unknown user.
	badPasswordDesc = "Basic Auth Verification Failed"
	// ftnpipe.secure without credentials.
	anonymousDesc = "Anonymous not allowed"
)

const (
	testIface   = "ftnpipe.test:1.0"
	secureIface = "ftnpipe.secure:1.0"
	goodCreds   = "tester:s3cr3t"
)

// callTimeout bounds every call that is not about timeouts, so a broken
// transport fails the test instead of hanging it.
const callTimeout = 20 * time.Second

var transports = []string{"http", "ws"}

// forEachTransport runs f as a subtest per transport.
func forEachTransport(t *testing.T, f func(t *testing.T, scheme string)) {
	t.Helper()
	for _, scheme := range transports {
		t.Run(scheme, func(t *testing.T) { f(t, scheme) })
	}
}

// register makes a fresh CCM with iface registered as "svc" against the
// reference executor over scheme, and returns the iface. The CCM is closed
// when the test ends.
func register(t *testing.T, scheme, iface string, opts ...ccm.RegisterOption) *ccm.Iface {
	t.Helper()
	is := is.New(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.LimitZone(ccm.ZoneUnlimited))
	t.Cleanup(func() { is.NoErr(c.Close()) })
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	is.NoErr(c.Register(ctx, "svc", iface, endpoint(scheme), opts...))
	svc, err := c.Iface("svc")
	is.NoErr(err)
	return svc
}

func call(t *testing.T, svc *ccm.Iface, fn string, params map[string]any) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := svc.Call(ctx, fn, params)
	if err != nil {
		return nil, err
	}
	r, ok := res.(map[string]any)
	if !ok {
		t.Fatalf("%s: result is %T (%v), want map[string]any", fn, res, res)
	}
	return r, nil
}

// futoinError returns err as *ccm.Error, failing the test if it is not one.
func futoinError(t *testing.T, err error) *ccm.Error {
	t.Helper()
	var fe *ccm.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *ccm.Error", err, err)
	}
	return fe
}

func TestResult(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, testIface)

		r, err := call(t, svc, "echo", map[string]any{"msg": "hello, 世界"})
		is.NoErr(err)
		is.Equal(r["msg"], "hello, 世界")

		r, err = call(t, svc, "add", map[string]any{"a": 2, "b": 3.5})
		is.NoErr(err)
		is.Equal(r["sum"], 5.5)

		var sum struct {
			Sum float64 `json:"sum"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		is.NoErr(svc.CallInto(ctx, "add", map[string]any{"a": -1, "b": 0.25}, &sum))
		is.Equal(sum.Sum, -0.75)
	})
}

func TestDeclaredError(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, testIface)

		_, err := call(t, svc, "fail", nil)
		is.True(err != nil)
		fe := futoinError(t, err)
		is.Equal(string(fe.Name), declaredName)
		is.Equal(fe.Desc, declaredDesc)
		is.True(fe.Remote)
		is.Equal(string(ccm.NameOf(err)), declaredName)

		// The connection stays usable after an error reply.
		r, err := call(t, svc, "echo", map[string]any{"msg": "after"})
		is.NoErr(err)
		is.Equal(r["msg"], "after")
	})
}

func TestUndeclaredError(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, testIface)

		_, err := call(t, svc, "undeclared", nil)
		is.True(err != nil)
		fe := futoinError(t, err)
		is.Equal(fe.Name, ccm.InternalError)
		is.Equal(fe.Desc, undeclaredDesc)
		is.True(fe.Remote)
		is.True(errors.Is(err, ccm.ErrInternalError))
	})
}

func TestTimeout(t *testing.T) {
	const (
		ourTimeout = 300 * time.Millisecond
		sleepMS    = 5000 // the reply would come much later than ourTimeout
		// promptly: well before the reply; loose so a loaded machine passes.
		promptly = 4 * time.Second
	)

	forEachTransport(t, func(t *testing.T, scheme string) {
		t.Run("CallTimeout", func(t *testing.T) {
			is := is.New(t)
			svc := register(t, scheme, testIface, ccm.CallTimeout(ourTimeout))

			start := time.Now()
			_, err := svc.Call(context.Background(), "sleep", map[string]any{"ms": sleepMS})
			elapsed := time.Since(start)
			is.True(err != nil)
			is.True(errors.Is(err, ccm.ErrTimeout)) // want Timeout
			is.Equal(ccm.NameOf(err), ccm.Timeout)
			is.True(!futoinError(t, err).Remote) // our own timeout, not the executor's
			if elapsed > promptly {
				t.Fatalf("Timeout after %v, want it near %v", elapsed, ourTimeout)
			}

			// A short sleep still fits and the iface keeps working while the
			// abandoned call is still running on the server.
			r, err := call(t, svc, "sleep", map[string]any{"ms": 10})
			is.NoErr(err)
			is.Equal(r["slept"], float64(10))
			r, err = call(t, svc, "echo", map[string]any{"msg": "still here"})
			is.NoErr(err)
			is.Equal(r["msg"], "still here")
		})

		t.Run("ContextDeadline", func(t *testing.T) {
			is := is.New(t)
			svc := register(t, scheme, testIface)

			ctx, cancel := context.WithTimeout(context.Background(), ourTimeout)
			defer cancel()
			start := time.Now()
			_, err := svc.Call(ctx, "sleep", map[string]any{"ms": sleepMS})
			elapsed := time.Since(start)
			is.True(err != nil)
			is.True(errors.Is(err, ccm.ErrTimeout)) // want Timeout
			is.Equal(ccm.NameOf(err), ccm.Timeout)
			if elapsed > promptly {
				t.Fatalf("Timeout after %v, want it near %v", elapsed, ourTimeout)
			}
		})
	})
}

func TestCredentials(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		t.Run("accepted", func(t *testing.T) {
			is := is.New(t)
			svc := register(t, scheme, secureIface, ccm.Credentials(goodCreds))

			r, err := call(t, svc, "whoami", nil)
			is.NoErr(err)
			is.Equal(r["login"], "tester")
			is.Equal(r["seclvl"], "SafeOps") // what BasicAuthService grants a plain user

			r, err = call(t, svc, "echo", map[string]any{"msg": "authenticated"})
			is.NoErr(err)
			is.Equal(r["msg"], "authenticated")
		})

		for _, bad := range []struct{ name, creds string }{
			{"wrong password", "tester:wrong"},
			{"unknown user", "nobody:s3cr3t"},
		} {
			t.Run(bad.name, func(t *testing.T) {
				is := is.New(t)
				svc := register(t, scheme, secureIface, ccm.Credentials(bad.creds))

				_, err := call(t, svc, "whoami", nil)
				is.True(err != nil)
				fe := futoinError(t, err)
				is.Equal(fe.Name, ccm.SecurityError)
				is.Equal(fe.Desc, badPasswordDesc)
				is.True(fe.Remote)
				is.True(errors.Is(err, ccm.ErrSecurityError))
			})
		}

		t.Run("anonymous", func(t *testing.T) {
			is := is.New(t)
			svc := register(t, scheme, secureIface)

			_, err := call(t, svc, "whoami", nil)
			is.True(err != nil)
			fe := futoinError(t, err)
			is.Equal(fe.Name, ccm.SecurityError)
			is.Equal(fe.Desc, anonymousDesc)
			is.True(fe.Remote)
		})

		// Credentials on an AllowAnonymous iface are still checked.
		t.Run("checked on anonymous iface", func(t *testing.T) {
			is := is.New(t)
			good := register(t, scheme, testIface, ccm.Credentials(goodCreds))
			r, err := call(t, good, "echo", map[string]any{"msg": "x"})
			is.NoErr(err)
			is.Equal(r["msg"], "x")

			bad := register(t, scheme, testIface, ccm.Credentials("tester:wrong"))
			_, err = call(t, bad, "echo", map[string]any{"msg": "x"})
			is.Equal(ccm.NameOf(err), ccm.SecurityError)
		})
	})
}

// TestConcurrent sends many calls at once over one CCM. Over ws they share
// one connection: the replies come back out of order and must be matched by
// rid.
func TestConcurrent(t *testing.T) {
	const n = 24

	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, testIface)

		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()

		// A slow call first: the fast ones must not wait behind it.
		slowDone := make(chan error, 1)
		go func() {
			res, err := svc.Call(ctx, "sleep", map[string]any{"ms": 1500})
			if err == nil {
				if r, _ := res.(map[string]any); r == nil || r["slept"] != float64(1500) {
					err = fmt.Errorf("sleep: got %v", res)
				}
			}
			slowDone <- err
		}()

		errs := make(chan error, n-1)
		for i := range n - 1 {
			go func() {
				var res any
				var err error
				if i%2 == 0 {
					res, err = svc.Call(ctx, "add", map[string]any{"a": i, "b": 1000})
					if err == nil {
						if r, _ := res.(map[string]any); r == nil || r["sum"] != float64(i+1000) {
							err = fmt.Errorf("add(%d, 1000): got %v", i, res)
						}
					}
				} else {
					msg := fmt.Sprintf("call %d", i)
					res, err = svc.Call(ctx, "echo", map[string]any{"msg": msg})
					if err == nil {
						if r, _ := res.(map[string]any); r == nil || r["msg"] != msg {
							err = fmt.Errorf("echo(%q): got %v", msg, res)
						}
					}
				}
				errs <- err
			}()
		}
		for range n - 1 {
			is.NoErr(<-errs)
		}
		select {
		case err := <-slowDone:
			t.Fatalf("the slow call finished (%v) before the fast ones were all answered", err)
		default:
		}
		is.NoErr(<-slowDone)
	})
}
