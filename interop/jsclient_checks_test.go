//go:build interop

package interop_test

// The reference invoker (client.js, INTEROP_SUITE=checks) calls our
// executor serving ftnpipe.check:1.0 with its definition loaded
// (executor.WithSpecs). The reference runs in prodMode, which turns its own
// request checks off, so a bad parameter reaches our executor and must be
// refused there.

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/spec"
)

// checkCalls are the calls of client.js INTEROP_SUITE=checks, in order.
var checkCalls = []string{"good", "badparam", "missing", "declared", "undeclared"}

func TestJSClientSpecChecks(t *testing.T) {
	for _, scheme := range transports {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			is := is.NewRelaxed(t)
			var calls atomic.Int64
			ex := executor.New(
				executor.WithSpecs(spec.LoadDir("specs", spec.WithRole(spec.Executor))),
				executor.WithCredentials(executor.Credentials{"smacuser": {MACKey: decodeKey(t, smacKey)}}),
			)
			err := ex.Register("ftnpipe.check:1.0", map[string]executor.Handler{
				"add": func(_ context.Context, req *executor.Request) (any, error) {
					calls.Add(1)
					a, b, c := req.Params["a"].(float64), req.Params["b"].(float64), req.Params["c"].(float64)
					return map[string]any{"sum": a + b + c}, nil
				},
				"fail": func(_ context.Context, req *executor.Request) (any, error) {
					calls.Add(1)
					return nil, ccm.NewError(ccm.ErrorName(req.Params["name"].(string)), "raised")
				},
			})
			is.NoErr(err) // register with the definition
			srv, err := ex.Listen("127.0.0.1:0")
			is.NoErr(err)
			t.Cleanup(func() {
				_ = srv.Close()
				_ = ex.Close()
			})
			url := srv.HTTPURL()
			if scheme == "ws" {
				url = srv.WSURL()
			}

			lines := runJSClientCalls(t, checkCalls, url, "-smac:smacuser", smacKey, "HS256", "INTEROP_SUITE=checks")
			byName := map[string]jsLine{}
			for _, l := range lines {
				byName[l.Call] = l
			}
			// The default c = 10 was filled in by our executor: prodMode
			// skips the reference invoker's defaults too.
			is.Equal(byName["good"].E, "")
			is.Equal(byName["good"].R, map[string]any{"sum": float64(13)})
			is.Equal(byName["badparam"].E, string(ccm.InvalidRequest))
			is.Equal(byName["badparam"].Edesc, `Type mismatch for parameter: ftnpipe.check:1.0:add(a) = "x"`)
			is.Equal(byName["missing"].E, string(ccm.InvalidRequest))
			is.Equal(byName["missing"].Edesc, "Missing parameter: ftnpipe.check:1.0:add(b)")
			is.Equal(byName["declared"].E, declaredName)
			is.Equal(byName["declared"].Edesc, "raised")
			// Our executor's answer (the reference invoker would say "Not
			// expected exception from Executor" had it received OtherError).
			is.Equal(byName["undeclared"].E, string(ccm.InternalError))
			is.Equal(byName["undeclared"].Edesc, "Not expected error")
			is.Equal(calls.Load(), int64(3)) // good, declared, undeclared; never a bad call
		})
	}
}
