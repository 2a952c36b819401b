//go:build interop

package interop_test

// MAC-signed calls the other way: the reference invoker (client.js, the
// reference AdvancedCCM) calls the ftnpipe executor, with -hmac and -smac
// credentials. Each run of client.js makes the calls of its CALLS list and
// prints one JSON line per call.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// clientTimeout bounds one run of client.js (it gives up by itself after
// 20 s).
const clientTimeout = 30 * time.Second

// jsLine is one output line of client.js.
type jsLine struct {
	Call  string         `json:"call"`
	R     map[string]any `json:"r"`
	E     string         `json:"e"`
	Edesc string         `json:"edesc"`
}

// jsCalls are the calls client.js makes, in order, with what a working
// executor answers (the handlers of goExecutor).
var jsCalls = []struct {
	call string
	r    func(user string) map[string]any // nil: the call fails with MyError
}{
	{"whoami", func(user string) map[string]any { return map[string]any{"login": user} }},
	{"echo", func(string) map[string]any { return map[string]any{"msg": "hello, 世界; a:b"} }},
	{"echo-note", func(string) map[string]any { return map[string]any{"msg": "with a note"} }},
	{"add", func(string) map[string]any { return map[string]any{"sum": 0.30000000000000004} }},
	{"add-big", func(string) map[string]any { return map[string]any{"sum": 1e21} }},
	{"mirror", func(string) map[string]any { return mirrorWant() }},
	{"fail", nil},
}

func decodeKey(t *testing.T, b64 string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		t.Fatalf("bad test key: %v", err)
	}
	return k
}

// goExecutor starts our executor on 127.0.0.1 with ftnpipe.mac:1.0 and the
// MAC users of these tests, and returns it with a counter of the handler
// calls. It is closed when the test ends.
func goExecutor(t *testing.T) (*executor.Server, *atomic.Int64) {
	t.Helper()
	creds := executor.Credentials{
		"hmacuser":  {MACKey: decodeKey(t, hmacKey)},
		"smacuser":  {MACKey: decodeKey(t, smacKey)},
		"otheruser": {MACKey: decodeKey(t, otherKey)},
		// Refuses every algorithm but HS512.
		"hs512user": {MACKey: decodeKey(t, smacKey), MACAlgorithms: []string{"HS512"}},
	}
	var calls atomic.Int64
	h := func(f executor.Handler) executor.Handler {
		return func(ctx context.Context, req *executor.Request) (any, error) {
			calls.Add(1)
			if req.User == "" { // the interface is for authenticated users only
				return nil, ccm.NewError(ccm.SecurityError, "anonymous")
			}
			return f(ctx, req)
		}
	}
	ex := executor.New(executor.WithCredentials(creds))
	err := ex.Register(macIface, map[string]executor.Handler{
		"whoami": h(func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"login": req.User}, nil
		}),
		"echo": h(func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"msg": req.Params["msg"]}, nil
		}),
		"add": h(func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			b, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + b}, nil
		}),
		"mirror": h(func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"m": req.Params["m"], "l": req.Params["l"]}, nil
		}),
		"fail": h(func(context.Context, *executor.Request) (any, error) {
			return nil, ccm.NewError(declaredName, declaredDesc)
		}),
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ex.Close()
	})
	return srv, &calls
}

// runJSClient runs `node client.js url creds key algo` (with env added to
// its environment) and returns its lines, failing the test if it does not
// exit 0.
func runJSClient(t *testing.T, url, creds, key, algo string, env ...string) []jsLine {
	t.Helper()
	names := make([]string, len(jsCalls))
	for i, c := range jsCalls {
		names[i] = c.call
	}
	return runJSClientCalls(t, names, url, creds, key, algo, env...)
}

// runJSClientCalls is runJSClient for a suite of client.js whose calls are
// named names, in order.
func runJSClientCalls(t *testing.T, names []string, url, creds, key, algo string, env ...string) []jsLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.js", url, creds, key, algo)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = stopTimeout
	err := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("node client.js stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("node client.js %s %s … %s: %v\nstdout:\n%s", url, creds, algo, err, stdout.String())
	}
	var lines []jsLine
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l jsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("node client.js printed %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != len(names) {
		t.Fatalf("node client.js printed %d lines, want %d:\n%s", len(lines), len(names), stdout.String())
	}
	for i, l := range lines {
		if l.Call != names[i] {
			t.Fatalf("line %d is for %q, want %q", i+1, l.Call, names[i])
		}
	}
	return lines
}

type jsCase struct {
	creds, key, algo string
}

// name is "-smac:user/ALGO/keyName".
func (c jsCase) name() string {
	key := "?"
	for name, k := range map[string]string{"hmacKey": hmacKey, "smacKey": smacKey, "otherKey": otherKey, "wrongKey": wrongKey} {
		if k == c.key {
			key = name
		}
	}
	return c.creds + "/" + c.algo + "/" + key
}

// forEachJSCase runs f for each case over http and ws, as parallel subtests,
// each with its own executor and node process. calls counts the handler
// calls of the subtest's executor.
func forEachJSCase(t *testing.T, cases []jsCase, f func(t *testing.T, url string, calls *atomic.Int64, c jsCase)) {
	t.Helper()
	for _, scheme := range transports {
		t.Run(scheme, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name(), func(t *testing.T) {
					t.Parallel()
					srv, calls := goExecutor(t)
					url := srv.HTTPURL()
					if scheme == "ws" {
						url = srv.WSURL()
					}
					f(t, url, calls, c)
				})
			}
		})
	}
}

// TestJSClientMAC: the reference invoker's signed calls reach our
// executor's handlers as the signing user, and our executor's signed
// replies (results and a declared error) pass the reference invoker's check.
func TestJSClientMAC(t *testing.T) {
	var cases []jsCase
	for _, algo := range legacyAlgos {
		cases = append(cases, jsCase{"-hmac:hmacuser", hmacKey, algo})
	}
	for _, algo := range ftn8Algos {
		cases = append(cases, jsCase{"-smac:smacuser", smacKey, algo})
	}
	cases = append(cases,
		jsCase{"-smac:otheruser", otherKey, "HS256"},
		jsCase{"-smac:hs512user", smacKey, "HS512"},
	)

	forEachJSCase(t, cases, func(t *testing.T, url string, calls *atomic.Int64, c jsCase) {
		is := is.NewRelaxed(t)
		user := strings.TrimPrefix(strings.TrimPrefix(c.creds, "-hmac:"), "-smac:")
		lines := runJSClient(t, url, c.creds, c.key, c.algo)
		for i, l := range lines {
			want := jsCalls[i]
			if want.r == nil {
				is.Equal(l.E, declaredName)
				is.Equal(l.Edesc, declaredDesc)
				continue
			}
			if l.E != "" {
				t.Errorf("%s: error %s %q", l.Call, l.E, l.Edesc)
				continue
			}
			is.Equal(l.R, want.r(user))
		}
		is.Equal(calls.Load(), int64(len(jsCalls)))
	})
}

// TestJSClientCoders: the reference invoker's MAC-signed calls in
// MessagePack and CBOR (its coder option) reach our executor, which
// detects the codec, checks the MAC over the decoded tree and answers,
// signed, in the same codec, which the reference decodes and verifies.
func TestJSClientCoders(t *testing.T) {
	for _, coder := range []string{"MPCK", "CBOR"} {
		for _, scheme := range transports {
			for _, c := range []jsCase{{"-smac:smacuser", smacKey, "HS256"}, {"-hmac:hmacuser", hmacKey, "SHA256"}} {
				t.Run(coder+"/"+scheme+"/"+c.name(), func(t *testing.T) {
					t.Parallel()
					is := is.NewRelaxed(t)
					srv, calls := goExecutor(t)
					url := srv.HTTPURL()
					if scheme == "ws" {
						url = srv.WSURL()
					}
					user := strings.TrimPrefix(strings.TrimPrefix(c.creds, "-hmac:"), "-smac:")
					lines := runJSClient(t, url, c.creds, c.key, c.algo, "INTEROP_CODER="+coder)
					for i, l := range lines {
						want := jsCalls[i]
						if want.r == nil {
							is.Equal(l.E, declaredName)
							continue
						}
						if l.E != "" {
							t.Errorf("%s: error %s %q", l.Call, l.E, l.Edesc)
							continue
						}
						is.Equal(l.R, want.r(user))
					}
					is.Equal(calls.Load(), int64(len(jsCalls)))
				})
			}
		}
	}
}

// TestJSClientMACRefused: requests our executor cannot verify are refused
// with SecurityError before any handler runs.
func TestJSClientMACRefused(t *testing.T) {
	cases := []jsCase{
		{"-hmac:hmacuser", wrongKey, "SHA256"},
		{"-hmac:hmacuser", otherKey, "MD5"},
		{"-smac:smacuser", wrongKey, "HS256"},
		{"-smac:smacuser", wrongKey, "HS512"},
		{"-smac:otheruser", smacKey, "HS256"}, // another user's key
		{"-smac:nobody", smacKey, "HS256"},    // unknown user
		{"-smac:hs512user", smacKey, "HS256"}, // algorithm not allowed for the user
	}

	forEachJSCase(t, cases, func(t *testing.T, url string, calls *atomic.Int64, c jsCase) {
		is := is.NewRelaxed(t)
		lines := runJSClient(t, url, c.creds, c.key, c.algo)
		for _, l := range lines {
			is.Equal(l.E, string(ccm.SecurityError))
			// The executor's refusal, passed on unsigned by the reference
			// invoker, not the invoker's own complaint about the reply's MAC.
			is.True(!strings.HasPrefix(l.Edesc, "Missing response MAC"))
			is.True(!strings.HasPrefix(l.Edesc, "Response MAC mismatch"))
		}
		t.Logf("%s: the executor answered %s %q", url, lines[0].E, lines[0].Edesc)
		is.Equal(calls.Load(), int64(0)) // no handler ran
	})
}
