package ccm_test

import (
	"context"
	"fmt"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// A CCM calling an executor over WebSocket on loopback.
func Example() {
	ctx := context.Background()

	ex := executor.New()
	defer ex.Close()
	_ = ex.Register("example.calc:1.0", map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			b, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + b}, nil
		},
	})
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c := ccm.New()
	defer c.Close()
	if err := c.Register(ctx, "calc", "example.calc:1.0", srv.WSURL()); err != nil {
		fmt.Println(err)
		return
	}
	calc, _ := c.Iface("calc")

	res, err := calc.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
	fmt.Println(res, err)

	var out struct {
		Sum int `json:"sum"`
	}
	err = calc.CallInto(ctx, "add", map[string]any{"a": 20, "b": 22}, &out)
	fmt.Println(out.Sum, err)

	_, err = calc.Call(ctx, "sub", nil)
	fmt.Println(ccm.NameOf(err), ccm.IsRemote(err))
	// Output:
	// map[sum:5] <nil>
	// 42 <nil>
	// NotImplemented true
}

// Errors are *ccm.Error values with a FutoIn name; errors.Is works with the
// sentinels.
func ExampleNameOf() {
	c := ccm.New()
	defer c.Close()
	err := c.Register(context.Background(), "x", "not a version", "ws://127.0.0.1:1/")
	fmt.Println(ccm.NameOf(err))
	// Output: InvokerError
}
