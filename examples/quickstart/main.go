// Command quickstart starts a FutoIn executor on 127.0.0.1, registers it in
// a CCM twice, over WebSocket and over HTTP, with user:password
// credentials, and calls it: a result, a result decoded into a struct, a
// declared error, a timeout. It needs no setup and no network.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()

	// The service side: an executor hosting example.calc:1.0.
	ex := executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "demo" && subtle.ConstantTimeCompare([]byte(password), []byte("s3cret")) == 1 {
			return nil
		}
		return errors.New("bad credentials")
	}))
	defer ex.Close()
	err := ex.Register("example.calc:1.0", map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			b, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + b, "by": req.User}, nil
		},
		"div": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			b, _ := req.Params["b"].(float64)
			if b == 0 {
				return nil, ccm.NewError("DivisionByZero", "b must not be 0")
			}
			return map[string]any{"q": a / b}, nil
		},
		"slow": func(ctx context.Context, _ *executor.Request) (any, error) {
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
			}
			return map[string]any{}, nil
		},
	})
	if err != nil {
		return err
	}
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()

	// The client side: one CCM, two registrations of the same service.
	c := ccm.New(ccm.CallTimeout(5 * time.Second))
	defer c.Close()
	for name, url := range map[string]string{"calc-ws": srv.WSURL(), "calc-http": srv.HTTPURL()} {
		if err := c.Register(ctx, name, "example.calc:1.0", url, ccm.Credentials("demo:s3cret")); err != nil {
			return err
		}
	}

	for _, name := range []string{"calc-ws", "calc-http"} {
		calc, err := c.Iface(name)
		if err != nil {
			return err
		}
		res, err := calc.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
		fmt.Printf("%-9s add(2, 3)        = %v, err=%v\n", name, res, err)

		var q struct {
			Q float64 `json:"q"`
		}
		err = calc.CallInto(ctx, "div", map[string]any{"a": 1, "b": 4}, &q)
		fmt.Printf("%-9s div(1, 4)        = %v, err=%v\n", name, q.Q, err)

		_, err = calc.Call(ctx, "div", map[string]any{"a": 1, "b": 0})
		var fe *ccm.Error
		if errors.As(err, &fe) {
			fmt.Printf("%-9s div(1, 0)        → %s (%q), from the peer: %v\n", name, fe.Name, fe.Desc, fe.Remote)
		}

		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err = calc.Call(tctx, "slow", nil)
		cancel()
		fmt.Printf("%-9s slow() in 100ms  → %s, errors.Is(err, ccm.ErrTimeout)=%v\n", name, ccm.NameOf(err), errors.Is(err, ccm.ErrTimeout))
	}

	// Wrong credentials: the executor answers SecurityError.
	if err := c.Register(ctx, "intruder", "example.calc:1.0", srv.WSURL(), ccm.Credentials("demo:guess")); err != nil {
		return err
	}
	intruder, _ := c.Iface("intruder")
	_, err = intruder.Call(ctx, "add", map[string]any{"a": 1, "b": 1})
	fmt.Printf("%-9s add with a wrong password → %v\n", "intruder", err)
	if ccm.NameOf(err) != ccm.SecurityError {
		fmt.Fprintln(os.Stderr, "unexpected:", err)
		os.Exit(1)
	}
	return nil
}
