package calcapi

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// TestEmbeddedSpec checks that the definitions embedded in the generated
// file load in the Executor role, inherited functions included.
func TestEmbeddedSpec(t *testing.T) {
	is := is.New(t)
	si, err := calcSpec()
	is.NoErr(err)
	is.Equal(si.IfaceVer(), CalcIfaceVer)
	is.Equal(si.Inherits(), []string{"example.calcbase:1.0"})
	for _, fn := range []string{"add", "div", "eval", "label", "reset"} {
		_, err := si.Func(fn)
		is.NoErr(err) // function in the embedded spec
	}
}

type nopServer struct{}

func (nopServer) Div(context.Context, float64, float64) (CalcDivResult, error) {
	return CalcDivResult{}, nil
}
func (nopServer) Eval(context.Context, CalcExprs, int) (CalcEvalResult, error) {
	return CalcEvalResult{}, nil
}
func (nopServer) Label(context.Context, CalcLabel) (string, error)     { return "", nil }
func (nopServer) Reset(context.Context) error                          { return nil }
func (nopServer) Add(context.Context, int, int) (CalcAddResult, error) { return CalcAddResult{}, nil }
func (nopServer) Sum(context.Context, int, io.Reader) (CalcSumResult, error) {
	return CalcSumResult{}, nil
}
func (nopServer) Scale(context.Context, float64, io.Reader, *executor.RawOutput) error { return nil }

func TestRegisterTwiceFails(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	is.NoErr(RegisterCalcServer(ex, nopServer{}))
	is.True(RegisterCalcServer(ex, nopServer{}) != nil) // the executor refuses a second implementation
}

// TestArg covers the conversions of checked parameter values, including
// the failure the spec check normally prevents.
func TestArg(t *testing.T) {
	is := is.New(t)
	n, err := calcArg[int](float64(7))
	is.NoErr(err)
	is.Equal(n, 7)
	f, err := calcArg[float64](float64(1.5))
	is.NoErr(err)
	is.Equal(f, 1.5)
	z, err := calcArg[int](nil)
	is.NoErr(err)
	is.Equal(z, 0)
	e, err := calcArg[CalcExprs]([]any{map[string]any{"op": "mul", "a": 2.0, "b": 3.0, "label": "x"}})
	is.NoErr(err)
	is.Equal(len(e), 1)
	is.Equal(e[0].Op, CalcOpMul)
	is.Equal(*e[0].Label, "x")
	_, err = calcArg[int](1.5)
	is.True(err != nil) // a fraction does not fit int

	fn, err := calcSpec()
	is.NoErr(err)
	add, err := fn.Func("add")
	is.NoErr(err)
	bad := calcBadParam(CalcIfaceVer, add, "a", errors.New("does not fit"))
	is.Equal(ccm.NameOf(bad), ccm.InvalidRequest)
	is.Equal(bad.Error(), "InvalidRequest: Type mismatch for parameter: example.typedcalc:1.1:add(a): does not fit")
}

// TestRawParams covers the decoding of URL-mapped (string) params: typed
// names are decoded as JSON text, others and undecodable values stay
// strings, and the request's map is left as it was.
func TestRawParams(t *testing.T) {
	is := is.New(t)
	in := map[string]any{"digits": "3", "factor": "x", "l": "7", "m": 2.0}
	out := calcRawParams(in, "digits", "factor", "m", "absent")
	is.Equal(out, map[string]any{"digits": 3.0, "factor": "x", "l": "7", "m": 2.0})
	is.Equal(in["digits"], "3")
}

// TestResult covers the conversion of a raw upload's generic result: a
// value that does not fit the typed result is InternalError.
func TestResult(t *testing.T) {
	is := is.New(t)
	r, err := calcResult[CalcSumResult](map[string]any{"total": 1.5, "count": 2.0}, nil)
	is.NoErr(err)
	is.Equal(r, CalcSumResult{Total: 1.5, Count: 2})
	_, err = calcResult[CalcSumResult](map[string]any{"total": "many"}, nil)
	is.Equal(ccm.NameOf(err), ccm.InternalError)
	_, err = calcResult[CalcSumResult](nil, ccm.NewError(CalcNotANumber, "x"))
	is.Equal(ccm.NameOf(err), CalcNotANumber) // the call's error passes as it is
}
