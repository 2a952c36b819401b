package executor_test

import (
	"context"
	"fmt"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// An interface registered with its definition: bad params never reach the
// handler, defaults are filled in, and an error the function does not
// declare becomes InternalError.
func ExampleWithSpecs() {
	set := spec.New(spec.WithRole(spec.Executor), spec.JSON([]byte(`{
		"iface": "example.calc", "version": "1.0", "requires": ["AllowAnonymous"],
		"funcs": {
			"add": {
				"params": {"a": {"type": "integer"}, "b": {"type": "integer", "default": 1}},
				"result": {"sum": {"type": "integer"}}
			},
			"div": {"params": {"a": {"type": "integer"}}, "result": {"q": {"type": "number"}}}
		}}`)))
	ex := executor.New(executor.WithSpecs(set))
	defer ex.Close()
	err := ex.Register("example.calc:1.0", map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"sum": req.Params["a"].(float64) + req.Params["b"].(float64)}, nil
		},
		"div": func(context.Context, *executor.Request) (any, error) {
			return nil, pipeline.NewError("DivByZero", "not declared in throws")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []map[string]any{{"a": 2.0}, {"a": "two"}} {
		var rsp pipeline.Response
		ex.ServeInternal(context.Background(), &pipeline.Request{F: "example.calc:1.0:add", P: p}, &rsp)
		if rsp.E != "" {
			fmt.Println(rsp.E, rsp.EDesc)
			continue
		}
		fmt.Println(rsp.R)
	}
	var rsp pipeline.Response
	ex.ServeInternal(context.Background(), &pipeline.Request{F: "example.calc:1.0:div", P: map[string]any{"a": 1.0}}, &rsp)
	fmt.Println(rsp.E, rsp.EDesc)
	// Output:
	// map[sum:3]
	// InvalidRequest Type mismatch for parameter: example.calc:1.0:add(a) = "two"
	// InternalError Not expected error
}
