// Command threeways does one small job three ways: it asks a FutoIn
// service for the square of each of 1..8 and adds them up, with blocking
// calls, with the channel API, and with AsyncSteps. The service runs in
// the same process on 127.0.0.1; no setup, no network.
//
//	go run ./examples/threeways
package main

import (
	"context"
	"fmt"
	"log"
	"sync"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

var numbers = []int{1, 2, 3, 4, 5, 6, 7, 8}

func main() {
	ctx := context.Background()

	ex := executor.New()
	defer ex.Close()
	err := ex.Register("example.math:1.0", map[string]executor.Handler{
		"square": func(_ context.Context, req *executor.Request) (any, error) {
			x, _ := req.Params["x"].(float64)
			return map[string]any{"y": x * x}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c := ccm.New()
	defer c.Close()
	if err := c.Register(ctx, "math", "example.math:1.0", srv.WSURL()); err != nil {
		log.Fatal(err)
	}
	math, _ := c.Iface("math")

	for _, style := range []struct {
		name string
		run  func(context.Context, *ccm.Iface) (float64, error)
	}{
		{"blocking", blocking},
		{"channel", channel},
		{"steps", steps},
	} {
		sum, err := style.run(ctx, math)
		fmt.Printf("%-8s sum of squares = %v, err = %v\n", style.name, sum, err)
	}
}

// blocking: one goroutine per concurrent call, each blocked in Call; a
// mutex guards the sum. Plain Go, easy to read; the cost is a goroutine
// per call in flight.
func blocking(ctx context.Context, math *ccm.Iface) (float64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		sum   float64
		first error
	)
	for _, x := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := math.Call(ctx, "square", map[string]any{"x": x})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmpErr(first, err)
				return
			}
			sum += res.(map[string]any)["y"].(float64)
		}()
	}
	wg.Wait()
	return sum, first
}

// channel: requests in on one channel, results out on another; the stream
// keeps a bounded window of calls in flight with two goroutines in all.
func channel(ctx context.Context, math *ccm.Iface) (float64, error) {
	in := make(chan ccm.StreamRequest)
	go func() {
		defer close(in) // closing the input drains and then closes the output
		for _, x := range numbers {
			in <- ccm.StreamRequest{Func: "square", Params: map[string]any{"x": x}, Tag: x}
		}
	}()
	var sum float64
	var first error
	for r := range math.Stream(ctx, in) {
		if r.Err != nil {
			first = cmpErr(first, r.Err)
			continue
		}
		sum += r.Value.(map[string]any)["y"].(float64)
	}
	return sum, first
}

// steps: the FTN12 way, a program of steps; the parallel branches share
// State, so no lock, and no goroutine waits for a call.
func steps(ctx context.Context, math *ccm.Iface) (float64, error) {
	as := ccm.NewSteps()
	as.State()["sum"] = 0.0
	p := as.Parallel(nil)
	for _, x := range numbers {
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			math.CallSteps(as, "square", map[string]any{"x": x})
			as.Add(func(as *ccm.AsyncSteps, args ...any) {
				as.State()["sum"] = as.State()["sum"].(float64) + args[0].(map[string]any)["y"].(float64)
			}, nil)
		}, nil)
	}
	as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Success(as.State()["sum"]) }, nil)
	res, err := as.Run(ctx)
	if err != nil {
		return 0, err
	}
	return res[0].(float64), nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
