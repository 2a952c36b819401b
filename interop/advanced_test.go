//go:build interop

package interop_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// strictTest is the invoker's own, older view of ftnpipe.test:1.0: fail()
// declares no errors, so the MyError the reference executor raises (its
// spec declares it) is one this invoker does not expect.
const strictTest = `{
	"iface": "ftnpipe.test", "version": "1.0", "ftn3rev": "1.1",
	"funcs": {
		"echo": {"params": {"msg": {"type": "string"}}, "result": {"msg": {"type": "string"}}},
		"fail": {"result": {"ok": {"type": "boolean"}}}
	},
	"requires": ["AllowAnonymous"]
}`

func wantFutoIn(t *testing.T, err error, name pipeline.ErrorName, desc string, remote bool) {
	t.Helper()
	var fe *pipeline.Error
	if !errors.As(err, &fe) || fe.Name != name || fe.Desc != desc || fe.Remote != remote {
		t.Fatalf("err = %#v, want %s %q (remote %v)", err, name, desc, remote)
	}
}

// TestAdvancedAgainstReference: the AdvancedCCM calls the reference
// executor with spec-checked calls over HTTP and WebSocket; a bad param
// is refused with the reference invoker's message before anything is
// sent (the executor would answer InvalidRequest, remote); an error the
// invoker's spec does not declare becomes an InternalError.
func TestAdvancedAgainstReference(t *testing.T) {
	ctx := context.Background()
	for _, scheme := range []string{"http", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			a, err := ccm.NewAdvanced(spec.LoadDir("specs"), ccm.RetryCount(0))
			is.NoErr(err)
			defer a.Close()
			is.NoErr(a.Register(ctx, "test", "ftnpipe.test:1.0", endpoint(scheme)))
			it, err := a.Iface("test")
			is.NoErr(err)

			res, err := it.Call(ctx, "echo", map[string]any{"msg": "héllo"})
			is.NoErr(err)
			is.Equal(res, map[string]any{"msg": "héllo"})
			res, err = it.Call(ctx, "add", map[string]any{"a": 1.5, "b": 2})
			is.NoErr(err)
			is.Equal(res, map[string]any{"sum": 3.5})

			_, err = it.Call(ctx, "echo", map[string]any{"msg": 1})
			wantFutoIn(t, err, ccm.InvokerError, `Type mismatch for parameter: ftnpipe.test:1.0:echo(msg) = "1"`, false)
			_, err = it.Call(ctx, "echo", map[string]any{"msg": "x", "extra": 1})
			wantFutoIn(t, err, ccm.InvokerError, "Unknown parameter: ftnpipe.test:1.0:echo(extra)", false)
			_, err = it.Call(ctx, "nosuch", nil)
			wantFutoIn(t, err, ccm.InvokerError, "Unknown interface function: ftnpipe.test:1.0:nosuch()", false)

			// Declared in throws: passed on as the peer's error.
			_, err = it.Call(ctx, "fail", nil)
			wantFutoIn(t, err, "MyError", "fail() always fails", true)
			// The reference executor itself refuses to send an undeclared
			// error: a standard InternalError arrives.
			_, err = it.Call(ctx, "undeclared", nil)
			is.Equal(ccm.NameOf(err), ccm.InternalError)

			// The same call the SimpleCCM way reaches the executor, which
			// answers the bad param itself.
			c := ccm.New(ccm.RetryCount(0))
			defer c.Close()
			is.NoErr(c.Register(ctx, "test", "ftnpipe.test:1.0", endpoint(scheme)))
			sit, _ := c.Iface("test")
			_, err = sit.Call(ctx, "echo", map[string]any{"msg": 1})
			is.Equal(ccm.NameOf(err), ccm.InvalidRequest)
			is.True(ccm.IsRemote(err))

			// An invoker whose spec does not declare MyError for fail().
			strict, err := ccm.NewAdvanced(spec.New(spec.JSON([]byte(strictTest))), ccm.RetryCount(0))
			is.NoErr(err)
			defer strict.Close()
			is.NoErr(strict.Register(ctx, "test", "ftnpipe.test:1.0", endpoint(scheme)))
			st, _ := strict.Iface("test")
			_, err = st.Call(ctx, "fail", nil)
			wantFutoIn(t, err, ccm.InternalError, "Not expected exception from Executor: fail() = MyError(fail() always fails)", false)
			is.True(!strings.Contains(err.Error(), "forcersp"))
		})
	}
}
