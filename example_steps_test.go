package ccm_test

import (
	"context"
	"fmt"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// An AsyncSteps program: sub-steps run before the next sibling, results
// flow to the next step, and an error handler recovers.
func ExampleNewSteps() {
	as := ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		fmt.Println("A")
		as.Add(func(as *ccm.AsyncSteps, _ ...any) {
			fmt.Println("A1")
			as.Error("NotFound", "no such item")
		}, func(as *ccm.AsyncSteps, err *ccm.Error) {
			fmt.Println("handled", err)
			as.Success("default")
		})
	}, nil)
	as.Repeat(2, func(as *ccm.AsyncSteps, i int) { fmt.Println("iteration", i) })
	as.Add(func(as *ccm.AsyncSteps, args ...any) { as.Success("done") }, nil)
	res, err := as.Run(context.Background())
	fmt.Println(res, err)
	// Output:
	// A
	// A1
	// handled NotFound: no such item
	// iteration 0
	// iteration 1
	// [done] <nil>
}

// calcIface starts an executor with example.calc:1.0 on loopback and
// returns an Iface for it and a function that shuts everything down.
func calcIface() (*ccm.Iface, func()) {
	ex := executor.New()
	_ = ex.Register("example.calc:1.0", map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			b, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + b}, nil
		},
	})
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c := ccm.New()
	if err := c.Register(context.Background(), "calc", "example.calc:1.0", srv.WSURL()); err != nil {
		panic(err)
	}
	calc, _ := c.Iface("calc")
	return calc, func() { c.Close(); srv.Close(); ex.Close() }
}

// CallSteps makes a call inside a program; its result goes to the next
// step, and a peer error goes to the handler around it.
func ExampleIface_CallSteps() {
	calc, stop := calcIface()
	defer stop()
	as := ccm.NewSteps()
	calc.CallSteps(as, "add", map[string]any{"a": 2, "b": 3})
	as.Add(func(as *ccm.AsyncSteps, args ...any) {
		fmt.Println("sum:", args[0].(map[string]any)["sum"])
	}, nil)
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		calc.CallSteps(as, "mul", nil)
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		fmt.Println("peer said:", err.Name, ccm.IsRemote(err))
		as.Success()
	})
	_, err := as.Run(context.Background())
	fmt.Println(err)
	// Output:
	// sum: 5
	// peer said: NotImplemented true
	// <nil>
}

// Stream: requests in on a channel, results out on another, each result
// carrying its request. Closing the input ends the output.
func ExampleIface_Stream() {
	calc, stop := calcIface()
	defer stop()
	in := make(chan ccm.StreamRequest)
	go func() {
		defer close(in)
		for i := range 3 {
			in <- ccm.StreamRequest{Func: "add", Params: map[string]any{"a": i, "b": 10}, Tag: i}
		}
	}()
	sums := map[int]any{}
	for r := range calc.Stream(context.Background(), in) {
		sums[r.Request.Tag.(int)] = r.Value.(map[string]any)["sum"]
	}
	fmt.Println(sums)
	// Output: map[0:10 1:11 2:12]
}
