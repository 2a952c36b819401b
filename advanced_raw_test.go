package ccm_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// TestAdvancedRaw: raw calls through an AdvancedCCM are checked against
// the spec before anything is sent (the rawupload and rawresult flags,
// the params), and work when they match.
func TestAdvancedRaw(t *testing.T) {
	is := is.New(t)
	var served atomic.Int64
	ex := executor.New()
	defer ex.Close()
	is.NoErr(ex.RegisterRaw("test.raw:1.0", map[string]executor.RawFunc{
		"upload": {Upload: true, Handler: func(_ context.Context, req *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			served.Add(1)
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			n, _ := strconv.Atoi(req.Params["n"].(string)) // URL-mapped params arrive as strings
			return map[string]any{"len": len(b), "n": n}, nil
		}},
		"download": {Result: true, Handler: func(_ context.Context, req *executor.RawRequest, out *executor.RawOutput) (any, error) {
			served.Add(1)
			return strings.Repeat("a", int(req.Params["n"].(float64))), nil
		}},
	}))
	is.NoErr(ex.Register("test.raw:1.0", map[string]executor.Handler{
		"plain": func(context.Context, *executor.Request) (any, error) {
			served.Add(1)
			return map[string]any{"ok": true}, nil
		},
	}))
	srv, err := ex.Listen("")
	is.NoErr(err)
	a := newAdvanced(t, ccm.LimitZone(ccm.ZoneUnlimited))
	is.NoErr(a.Register(bg, "raw", "test.raw:1.0", srv.HTTPURL()))
	it, err := a.Iface("raw")
	is.NoErr(err)

	res, err := it.Upload(bg, "upload", map[string]any{"n": 7}, strings.NewReader("hello"))
	is.NoErr(err)
	is.Equal(res, map[string]any{"len": 5.0, "n": 7.0}) // checked against the spec's result
	rc, err := it.Download(bg, "download", map[string]any{"n": 3}, nil)
	is.NoErr(err)
	b, err := io.ReadAll(rc)
	is.NoErr(err)
	is.NoErr(rc.Close())
	is.Equal(string(b), "aaa")
	is.Equal(served.Load(), int64(2))

	for _, tc := range []struct {
		name string
		call func() error
		desc string
	}{
		{"upload to a function without rawupload", func() error {
			_, err := it.Upload(bg, "plain", nil, strings.NewReader("x"))
			return err
		}, "Raw upload is not allowed: plain()"},
		{"download of a function without rawresult", func() error {
			_, err := it.Download(bg, "upload", map[string]any{"n": 1}, strings.NewReader("x"))
			return err
		}, "Raw result is not expected"},
		{"upload to a rawresult function", func() error {
			_, err := it.Upload(bg, "download", map[string]any{"n": 1}, nil)
			return err
		}, "Raw upload is not allowed: download()"},
		{"a param of the wrong type", func() error {
			_, err := it.Upload(bg, "upload", map[string]any{"n": "seven"}, strings.NewReader("x"))
			return err
		}, "n"},
		{"an unknown function", func() error {
			_, err := it.Download(bg, "nope", nil, nil)
			return err
		}, "nope"},
	} {
		err := tc.call()
		is.Equal(ccm.NameOf(err), ccm.InvokerError) // tc.name
		if !strings.Contains(err.Error(), tc.desc) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.desc)
		}
	}
	is.Equal(served.Load(), int64(2)) // none of the refused calls was sent
}
