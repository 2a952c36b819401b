//go:build interop

package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
)

// goRawExecutor starts our executor with the raw functions of
// ftnpipe.raw:1.0 (no spec: params arrive as the query's strings) and user
// tester / s3cr3t.
func goRawExecutor(t *testing.T) *executor.Server {
	t.Helper()
	is := is.New(t)
	ex := executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "tester" && password == "s3cr3t" {
			return nil
		}
		return pipeline.NewError(pipeline.SecurityError, "no")
	}))
	err := ex.RegisterRaw(rawIface, map[string]executor.RawFunc{
		"upload": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			var b []byte
			if r.Body != nil {
				var err error
				if b, err = io.ReadAll(r.Body); err != nil {
					return nil, err
				}
			}
			return map[string]any{"raw": r.Body != nil, "body": string(b), "params": r.Params, "user": r.User}, nil
		}},
		"download": {Result: true, Handler: func(_ context.Context, r *executor.RawRequest, out *executor.RawOutput) (any, error) {
			// A number in a message POST, a string in a URL-mapped GET.
			n, _ := strconv.Atoi(fmt.Sprint(r.Params["n"]))
			out.SetContentType("text/plain")
			_, err := out.Write(alphabet(n))
			return nil, err
		}},
		"upper": {Upload: true, Result: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			b, err := io.ReadAll(r.Body)
			return bytes.ToUpper(b), err
		}},
		"failRaw": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			return nil, pipeline.NewError("MyError", "no raw data today")
		}},
	})
	is.NoErr(err)
	srv, err := ex.Listen("")
	is.NoErr(err)
	t.Cleanup(func() { _ = ex.Close() })
	return srv
}

// runRawJSClient runs `node rawclient.js url creds` and returns its lines
// by call name.
func runRawJSClient(t *testing.T, url, creds string) map[string]jsLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", "rawclient.js", url, creds)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node rawclient.js %s: %v\nstdout:\n%s\nstderr:\n%s", url, err, stdout.String(), stderr.String())
	}
	lines := map[string]jsLine{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var l jsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("node rawclient.js printed %q: %v", sc.Text(), err)
		}
		lines[l.Call] = l
	}
	return lines
}

// The reference SimpleCCM making raw calls to our executor. Over http:
// uploads (params as query strings, the credentials in the URL path, where
// the reference puts them), raw downloads by message POST, both at once,
// and a FutoIn error for a rawresult function. Over ws the reference sends
// uploads over http, but (having no spec) a download over the WebSocket,
// which our executor refuses with InvalidRequest.
func TestRawReferenceInvoker(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		srv := goRawExecutor(t)
		url := srv.HTTPURL()
		if scheme == "ws" {
			url = srv.WSURL()
		}
		lines := runRawJSClient(t, url, goodCreds)

		up := lines["upload"]
		is.Equal(up.E, "")
		is.Equal(up.R, map[string]any{"raw": true, "body": "hello from js", "user": "tester",
			"params": map[string]any{"name": "js", "count": "41", "meta": `{"x":"y"}`}})
		is.Equal(lines["upper"].R, map[string]any{"raw": "BOTH WAYS"})

		if scheme == "http" {
			is.Equal(lines["upload-empty"].R["raw"], true)
			is.Equal(lines["download"].R, map[string]any{"raw": string(alphabet(1000))})
			is.Equal(lines["failRaw"].E, "MyError")
			is.Equal(lines["failRaw"].Edesc, "no raw data today")
			return
		}
		// An empty upload is falsy in the reference: it goes over the
		// WebSocket as a plain call, which runs with no body.
		is.Equal(lines["upload-empty"].R["raw"], false)
		is.Equal(lines["download"].E, "InvalidRequest")
		is.True(strings.Contains(lines["download"].Edesc, "over HTTP"))
		is.Equal(lines["failRaw"].E, "InvalidRequest")
	})
}
