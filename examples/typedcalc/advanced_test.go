package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/examples/typedcalc/calcapi"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/spec"
)

// setupAdvanced is setup with an AdvancedCCM that loads the example's
// specs: the generated client's calls are checked on this side too. The
// interface does not allow anonymous callers, so the AdvancedCCM needs
// credentials.
func setupAdvanced(t testing.TB, srv calcapi.CalcServer) *ccm.Iface {
	t.Helper()
	ex := executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "calc" && password == "secret" {
			return nil
		}
		return errors.New("no")
	}))
	t.Cleanup(func() { ex.Close() })
	if err := calcapi.RegisterCalcServer(ex, srv); err != nil {
		t.Fatal(err)
	}
	s, err := ex.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ccm.NewAdvanced(spec.LoadDir("specs"), ccm.CallTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Register(context.Background(), "calc", calcapi.CalcIfaceVer, s.WSURL()); ccm.NameOf(err) != ccm.SecurityError {
		t.Fatalf("anonymous registration: %v, want SecurityError", err)
	}
	if err := a.Register(context.Background(), "calc", calcapi.CalcIfaceVer, s.WSURL(), ccm.Credentials("calc:secret")); err != nil {
		t.Fatal(err)
	}
	i, err := a.Iface("calc")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// The generated client works unchanged on an AdvancedCCM interface, and
// what breaks the spec is refused before it is sent (InvokerError, not
// the executor's InvalidRequest).
func TestGeneratedClientAdvanced(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rec := &recorder{}
	calc := calcapi.NewCalcClient(setupAdvanced(t, rec))
	r, err := calc.Add(ctx, 40, 2)
	is.NoErr(err)
	is.Equal(r.Sum, 42)
	_, err = calc.Div(ctx, 1, 0)
	is.True(errors.Is(err, calcapi.ErrCalcDivisionByZero))
	l := calcapi.CalcLabel("x1")
	ev, err := calc.Eval(ctx, calcapi.CalcExprs{{Op: calcapi.CalcOpDiv, A: 2, B: 3, Label: &l}}, nil)
	is.NoErr(err)
	is.Equal(ev.Values, calcapi.CalcNumbers{0.67})
	is.Equal(rec.digits.Load(), int64(2))
	s, err := calc.Label(ctx, "abc")
	is.NoErr(err)
	is.Equal(s, "ABC")
	is.NoErr(calc.Reset(ctx))

	before := rec.calls.Load()
	_, err = calc.Label(ctx, "Upper") // regex
	is.Equal(ccm.NameOf(err), ccm.InvokerError)
	is.True(!ccm.IsRemote(err))
	_, err = calc.Eval(ctx, calcapi.CalcExprs{}, nil) // minlen 1
	is.Equal(ccm.NameOf(err), ccm.InvokerError)
	is.Equal(rec.calls.Load(), before) // none reached the service
}
