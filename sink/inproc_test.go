package sink_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
)

// handlerFunc adapts a function to pipeline.Handler.
type handlerFunc func(ctx context.Context, req *pipeline.Request, rsp *pipeline.Response)

func (f handlerFunc) ServeInternal(ctx context.Context, req *pipeline.Request, rsp *pipeline.Response) {
	f(ctx, req, rsp)
}

// The handler gets a copy of the params in decoded shapes (numbers as
// float64, structs through JSON), may change it without touching the
// caller's map, and its result comes back; its error comes back as a
// remote error.
func TestInProcCall(t *testing.T) {
	is := is.New(t)
	type pt struct {
		X int `json:"x"`
	}
	var seen map[string]any
	h := handlerFunc(func(_ context.Context, req *pipeline.Request, rsp *pipeline.Response) {
		seen = req.P
		if req.F == "a.b:1.0:fail" {
			rsp.E, rsp.EDesc = "MyError", "described"
			return
		}
		req.P["added"] = true
		req.P["nested"].(map[string]any)["k"] = "changed"
		rsp.R, rsp.HasR = map[string]any{"n": 7, "ok": true}, true
	})
	in, join := runStage(sink.NewInProc(h))
	defer join()

	params := map[string]any{"i": 3, "s": "x", "nested": map[string]any{"k": "v"}, "pt": pt{X: 2}, "list": []any{int64(1), "a"}}
	c := pipeline.NewCall(context.Background(), "a.b:1.0:f", params)
	in <- c
	res, err := c.Wait()
	is.NoErr(err)
	is.Equal(res, map[string]any{"n": 7.0, "ok": true}) // result in decoded shapes
	is.True(c.Sent.Load())
	is.Equal(seen["i"], 3.0)                             // numbers as a decoder gives them
	is.Equal(seen["pt"], map[string]any{"x": 2.0})       // structs as on the wire
	is.Equal(seen["list"], []any{1.0, "a"})              // nested slices too
	is.Equal(params["nested"], map[string]any{"k": "v"}) // the caller's map is untouched
	_, added := params["added"]
	is.True(!added)

	c = pipeline.NewCall(context.Background(), "a.b:1.0:fail", nil)
	in <- c
	_, err = c.Wait()
	is.Equal(pipeline.NameOf(err), pipeline.ErrorName("MyError"))
	is.True(pipeline.IsRemote(err)) // the executor's answer
}

// Params that could not be encoded fail with InvokerError and never reach
// the handler; a result that could not be encoded is the executor's
// InternalError; a typed target gets the result as from the wire.
func TestInProcChecks(t *testing.T) {
	is := is.New(t)
	var reached int
	h := handlerFunc(func(_ context.Context, req *pipeline.Request, rsp *pipeline.Response) {
		reached++
		switch req.F {
		case "a.b:1.0:bad":
			rsp.R, rsp.HasR = map[string]any{"ch": make(chan int)}, true
		default:
			rsp.R, rsp.HasR = map[string]any{"x": 5}, true
		}
	})
	in, join := runStage(sink.NewInProc(h))
	defer join()

	for _, p := range []map[string]any{{"f": func() {}}, {"nan": math.NaN()}, {"c": make(chan int)}} {
		c := pipeline.NewCall(context.Background(), "a.b:1.0:f", p)
		in <- c
		_, err := c.Wait()
		is.True(errors.Is(err, pipeline.ErrInvokerError)) // cannot be sent
	}
	is.Equal(reached, 0) // none reached the handler

	c := pipeline.NewCall(context.Background(), "a.b:1.0:bad", nil)
	in <- c
	_, err := c.Wait()
	is.Equal(pipeline.NameOf(err), pipeline.InternalError)

	var out struct{ X int }
	c = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	c.Out = &out
	in <- c
	_, err = c.Wait()
	is.NoErr(err)
	is.Equal(out.X, 5)

	// A call that completed while queued never reaches the handler.
	ctx, cancel := context.WithCancel(context.Background())
	c = pipeline.NewCall(ctx, "a.b:1.0:f", nil)
	cancel()
	c.Complete(nil, ctx.Err())
	before := reached
	in <- c
	c = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	in <- c
	_, _ = c.Wait()
	is.Equal(reached, before+1)
}
