package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/examples/typedcalc/calcapi"
	"github.com/ftnpipe/ccm/executor"
)

// recorder is the example service, counting the calls that reach it and
// returning labelErr from Label when set.
type recorder struct {
	service
	calls    atomic.Int64
	digits   atomic.Int64
	labelErr error
}

func (r *recorder) Add(ctx context.Context, a, b int) (calcapi.CalcAddResult, error) {
	r.calls.Add(1)
	return r.service.Add(ctx, a, b)
}

func (r *recorder) Eval(ctx context.Context, exprs calcapi.CalcExprs, digits int) (calcapi.CalcEvalResult, error) {
	r.calls.Add(1)
	r.digits.Store(int64(digits))
	return r.service.Eval(ctx, exprs, digits)
}

func (r *recorder) Label(ctx context.Context, l calcapi.CalcLabel) (string, error) {
	r.calls.Add(1)
	if r.labelErr != nil {
		return "", r.labelErr
	}
	return r.service.Label(ctx, l)
}

// setup serves srv through the generated registration on a loopback
// executor and returns a CCM interface registered for it over WebSocket.
func setup(t testing.TB, srv calcapi.CalcServer) *ccm.Iface {
	t.Helper()
	ex := executor.New()
	t.Cleanup(func() { ex.Close() })
	if err := calcapi.RegisterCalcServer(ex, srv); err != nil {
		t.Fatal(err)
	}
	s, err := ex.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	c := ccm.New(ccm.CallTimeout(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	if err := c.Register(context.Background(), "calc", calcapi.CalcIfaceVer, s.WSURL()); err != nil {
		t.Fatal(err)
	}
	i, err := c.Iface("calc")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestRun(t *testing.T) {
	is := is.New(t)
	var out bytes.Buffer
	is.NoErr(run(context.Background(), &out))
	for _, want := range []string{
		"add(2, 3)          = 5\n",
		"div(1, 4)          = 0.25\n",
		"errors.Is(err, ErrCalcDivisionByZero) = true\n",
		"eval(1/3, 1.5*4)   = [0.33 6], labels [third]\n",
		"label(\"ok-label\")  = OK-LABEL\n",
		"label(\"Not A Label\") → InvalidRequest\n",
		"reset()            = ok\n",
		"sum(<1 2 3.5>)     = 6.5 (3 numbers)\n",
		"scale(10, <1 2.5>) = \"10\\n25\\n\"\n",
	} {
		is.True(strings.Contains(out.String(), want)) // output line
	}
}

// TestGeneratedEndToEnd drives the generated client against the generated
// server registration over a real WebSocket.
func TestGeneratedEndToEnd(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	iface := setup(t, rec)
	calc := calcapi.NewCalcClient(iface)

	t.Run("inherited function", func(t *testing.T) {
		is := is.New(t)
		r, err := calc.Add(ctx, 40, 2)
		is.NoErr(err)
		is.Equal(r.Sum, 42)
	})
	t.Run("declared error arrives as its typed constant", func(t *testing.T) {
		is := is.New(t)
		_, err := calc.Div(ctx, 1, 0)
		is.True(errors.Is(err, calcapi.ErrCalcDivisionByZero)) // errors.Is with the sentinel
		is.Equal(ccm.NameOf(err), calcapi.CalcDivisionByZero)  // NameOf with the constant
		var fe *ccm.Error
		is.True(errors.As(err, &fe))
		is.True(fe.Remote)                   // sent by the executor
		is.Equal(fe.Desc, "b must not be 0") // its description
		is.True(!errors.Is(err, ccm.ErrInternalError))
	})
	t.Run("struct params, enum, default applied", func(t *testing.T) {
		is := is.New(t)
		l := calcapi.CalcLabel("x1")
		exprs := calcapi.CalcExprs{{Op: calcapi.CalcOpDiv, A: 2, B: 3, Label: &l}, {Op: calcapi.CalcOpAdd, A: 1, B: 1}}
		r, err := calc.Eval(ctx, exprs, nil)
		is.NoErr(err)
		is.Equal(rec.digits.Load(), int64(2)) // the spec's default reached the server
		is.Equal(r.Values, calcapi.CalcNumbers{0.67, 2})
		is.Equal(r.Labels, []any{"x1"})
		four := 4
		r, err = calc.Eval(ctx, exprs, &four)
		is.NoErr(err)
		is.Equal(rec.digits.Load(), int64(4))
		is.Equal(r.Values[0], 0.6667)
	})
	t.Run("single-type result and void function", func(t *testing.T) {
		is := is.New(t)
		s, err := calc.Label(ctx, "abc")
		is.NoErr(err)
		is.Equal(s, "ABC")
		is.NoErr(calc.Reset(ctx))
	})
	t.Run("spec constraints beyond the Go type are refused", func(t *testing.T) {
		is := is.New(t)
		before := rec.calls.Load()
		_, err := calc.Label(ctx, "Upper")                // regex
		is.Equal(ccm.NameOf(err), ccm.InvalidRequest)     // regex violation
		_, err = calc.Eval(ctx, calcapi.CalcExprs{}, nil) // minlen 1
		is.Equal(ccm.NameOf(err), ccm.InvalidRequest)     // empty array
		_, err = calc.Eval(ctx, calcapi.CalcExprs{{Op: "pow", A: 1, B: 2}}, nil)
		is.Equal(ccm.NameOf(err), ccm.InvalidRequest) // not an enum item
		is.Equal(rec.calls.Load(), before)            // none reached the service
	})
}

// TestWrongParamsRefused sends what the typed client cannot: values of the
// wrong type, missing and unknown parameters, through the untyped Iface.
func TestWrongParamsRefused(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	iface := setup(t, rec)
	for name, p := range map[string]map[string]any{
		"string for integer":   {"a": "two", "b": 2},
		"fraction for integer": {"a": 1.5, "b": 2},
		"integer beyond int32": {"a": 1 << 40, "b": 2},
		"missing":              {"a": 1},
		"unknown":              {"a": 1, "b": 2, "c": 3},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := iface.Call(ctx, "add", p)
			var fe *ccm.Error
			is.True(errors.As(err, &fe))
			is.Equal(fe.Name, ccm.InvalidRequest) // refused by the generated registration
			is.True(fe.Remote)
			is.True(strings.Contains(fe.Desc, "example.typedcalc:1.1:add(")) // names the function and parameter
		})
	}
	is := is.New(t)
	is.Equal(rec.calls.Load(), int64(0)) // no bad call reached the service
	var r calcapi.CalcAddResult
	is.NoErr(iface.CallInto(ctx, "add", map[string]any{"a": 1, "b": 2}, &r)) // the right types pass
	is.Equal(r.Sum, 3)
}

// TestUndeclaredErrorBecomesInternal checks the server side of "throws":
// an error name the function does not declare is not passed on.
func TestUndeclaredErrorBecomesInternal(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		err  error
		want ccm.ErrorName
	}{
		"undeclared name":    {ccm.NewError("Oops", "secret detail"), ccm.InternalError},
		"declared elsewhere": {ccm.NewError(calcapi.CalcDivisionByZero, "x"), ccm.InternalError},
		"standard name":      {ccm.NewError(ccm.Unauthorized, "no"), ccm.Unauthorized},
		"plain Go error":     {errors.New("boom"), ccm.InternalError},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			calc := calcapi.NewCalcClient(setup(t, &recorder{labelErr: tc.err}))
			_, err := calc.Label(ctx, "abc")
			is.Equal(ccm.NameOf(err), tc.want)
			is.True(!strings.Contains(err.Error(), "secret detail")) // no leak of the undeclared error's text
		})
	}
}

// TestGeneratedSteps: the AsyncSteps form of the generated client passes
// the typed result to the next step, and a declared error reaches the
// step's error handler with its typed name.
func TestGeneratedSteps(t *testing.T) {
	is := is.New(t)
	calc := calcapi.NewCalcClient(setup(t, &recorder{}))
	var got float64
	as := ccm.NewSteps()
	calc.DivSteps(as, 7, 2)
	as.Add(func(as *ccm.AsyncSteps, args ...any) {
		got = args[0].(*calcapi.CalcDivResult).Q
	}, nil)
	_, err := as.Run(context.Background())
	is.NoErr(err)
	is.Equal(got, 3.5) // the typed result reached the next step

	var handled ccm.ErrorName
	as = ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		calc.DivSteps(as, 1, 0)
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		handled = err.Name
		as.Success()
	})
	_, err = as.Run(context.Background())
	is.NoErr(err)                                 // the handler recovered
	is.Equal(handled, calcapi.CalcDivisionByZero) // the declared error, by its constant
}
