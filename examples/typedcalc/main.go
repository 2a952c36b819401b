// Command typedcalc shows the Go code ftngen generates from an FTN3 spec:
// it serves example.typedcalc:1.1 (which inherits example.calcbase:1.0)
// through the generated server interface on a loopback executor, and calls
// it over WebSocket through the generated typed client: typed parameters
// and results, a custom struct type, an enum, an optional parameter with a
// default, a declared error matched with errors.Is, a request the
// executor refuses because it breaks the spec, and two raw data functions
// (an upload with a typed result, an upload answered with raw bytes). It
// needs no setup and no network.
//
//	go run ./examples/typedcalc
//
// The API lives in ./calcapi, generated from ./specs (go generate).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/examples/typedcalc/calcapi"
	"github.com/ftnpipe/ccm/executor"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// service implements calcapi.CalcServer. The generated registration has
// checked every parameter against the spec before a method runs.
type service struct{}

var _ calcapi.CalcServer = service{}

func (service) Add(_ context.Context, a, b int) (calcapi.CalcAddResult, error) {
	return calcapi.CalcAddResult{Sum: a + b}, nil
}

func (service) Div(_ context.Context, a, b float64) (calcapi.CalcDivResult, error) {
	if b == 0 {
		return calcapi.CalcDivResult{}, ccm.NewError(calcapi.CalcDivisionByZero, "b must not be 0")
	}
	return calcapi.CalcDivResult{Q: a / b}, nil
}

func (service) Eval(_ context.Context, exprs calcapi.CalcExprs, digits int) (calcapi.CalcEvalResult, error) {
	scale := math.Pow(10, float64(digits))
	res := calcapi.CalcEvalResult{Values: make([]float64, 0, len(exprs)), Labels: []any{}}
	for _, e := range exprs {
		var v float64
		switch e.Op {
		case calcapi.CalcOpAdd:
			v = e.A + e.B
		case calcapi.CalcOpSub:
			v = e.A - e.B
		case calcapi.CalcOpMul:
			v = e.A * e.B
		case calcapi.CalcOpDiv:
			if e.B == 0 {
				return calcapi.CalcEvalResult{}, ccm.NewError(calcapi.CalcDivisionByZero, "division by zero in eval")
			}
			v = e.A / e.B
		}
		res.Values = append(res.Values, math.Round(v*scale)/scale)
		if e.Label != nil {
			res.Labels = append(res.Labels, *e.Label)
		}
	}
	return res, nil
}

func (service) Label(_ context.Context, l calcapi.CalcLabel) (string, error) {
	return strings.ToUpper(l), nil
}

func (service) Reset(context.Context) error { return nil }

// numbers reads the white-space separated numbers of a raw upload (none
// when body is nil); a word that is not a number is NotANumber.
func numbers(body io.Reader) ([]float64, error) {
	if body == nil {
		return nil, nil
	}
	var out []float64
	sc := bufio.NewScanner(body)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		v, err := strconv.ParseFloat(sc.Text(), 64)
		if err != nil {
			return nil, ccm.NewError(calcapi.CalcNotANumber, "not a number in the upload")
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (service) Sum(_ context.Context, digits int, body io.Reader) (calcapi.CalcSumResult, error) {
	nums, err := numbers(body)
	if err != nil {
		return calcapi.CalcSumResult{}, err
	}
	var total float64
	for _, v := range nums {
		total += v
	}
	scale := math.Pow(10, float64(digits))
	return calcapi.CalcSumResult{Total: math.Round(total*scale) / scale, Count: len(nums)}, nil
}

func (service) Scale(_ context.Context, factor float64, body io.Reader, out *executor.RawOutput) error {
	nums, err := numbers(body)
	if err != nil {
		return err
	}
	out.SetContentType("text/plain")
	w := bufio.NewWriter(out)
	for _, v := range nums {
		fmt.Fprintln(w, strconv.FormatFloat(v*factor, 'g', -1, 64))
	}
	return w.Flush()
}

// serve starts an executor on loopback serving service through the
// generated registration. The caller closes the executor.
func serve() (*executor.Executor, *executor.Server, error) {
	ex := executor.New()
	if err := calcapi.RegisterCalcServer(ex, service{}); err != nil {
		ex.Close()
		return nil, nil, err
	}
	srv, err := ex.Listen("")
	if err != nil {
		ex.Close()
		return nil, nil, err
	}
	return ex, srv, nil
}

func run(ctx context.Context, out io.Writer) error {
	ex, srv, err := serve()
	if err != nil {
		return err
	}
	defer ex.Close()

	c := ccm.New(ccm.CallTimeout(5 * time.Second))
	defer c.Close()
	if err := c.Register(ctx, "calc", calcapi.CalcIfaceVer, srv.WSURL()); err != nil {
		return err
	}
	iface, err := c.Iface("calc")
	if err != nil {
		return err
	}
	calc := calcapi.NewCalcClient(iface)

	sum, err := calc.Add(ctx, 2, 3) // inherited from example.calcbase:1.0
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "add(2, 3)          = %d\n", sum.Sum)

	q, err := calc.Div(ctx, 1, 4)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "div(1, 4)          = %g\n", q.Q)

	_, err = calc.Div(ctx, 1, 0)
	fmt.Fprintf(out, "div(1, 0)          → %v; errors.Is(err, ErrCalcDivisionByZero) = %v\n",
		err, errors.Is(err, calcapi.ErrCalcDivisionByZero))

	third := calcapi.CalcLabel("third")
	res, err := calc.Eval(ctx, calcapi.CalcExprs{
		{Op: calcapi.CalcOpDiv, A: 1, B: 3},
		{Op: calcapi.CalcOpMul, A: 1.5, B: 4, Label: &third},
	}, nil) // digits: the spec's default, 2
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "eval(1/3, 1.5*4)   = %v, labels %v\n", res.Values, res.Labels)

	up, err := calc.Label(ctx, "ok-label")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "label(\"ok-label\")  = %s\n", up)

	// The Go type is a string, but the spec's regex refuses this one.
	_, err = calc.Label(ctx, "Not A Label")
	fmt.Fprintf(out, "label(\"Not A Label\") → %s\n", ccm.NameOf(err))

	if err := calc.Reset(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "reset()            = ok")

	// Raw data: sum takes an upload and gives a typed result; scale takes
	// an upload and answers raw bytes (both over HTTP).
	st, err := calc.Sum(ctx, nil, strings.NewReader("1 2 3.5"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sum(<1 2 3.5>)     = %g (%d numbers)\n", st.Total, st.Count)
	rc, err := calc.Scale(ctx, 10, strings.NewReader("1 2.5"))
	if err != nil {
		return err
	}
	defer rc.Close()
	scaled, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "scale(10, <1 2.5>) = %q\n", scaled)
	return nil
}
