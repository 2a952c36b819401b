package ccm_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// rawService is an executor hosting test.raw:1.0 (plain and raw
// functions) behind a recorder that keeps what arrived over HTTP.
type rawService struct {
	ex  *executor.Executor
	srv *httptest.Server

	mu   sync.Mutex
	seen []seenReq

	ended chan error // the ctx error of "slow" once it ended
}

type seenReq struct {
	method, url, auth string
	ws                bool
}

func (s *rawService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, seenReq{method: r.Method, url: r.URL.String(), auth: r.Header.Get("Authorization"),
		ws: strings.EqualFold(r.Header.Get("Upgrade"), "websocket")})
	s.mu.Unlock()
	s.ex.ServeHTTP(w, r)
}

func (s *rawService) requests() []seenReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenReq(nil), s.seen...)
}

// pattern returns n bytes of a repeating alphabet.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func rawFuncs(s *rawService) map[string]executor.RawFunc {
	return map[string]executor.RawFunc{
		// store: the upload's length and content, the params as received.
		"store": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			return map[string]any{"len": len(b), "body": string(b), "params": r.Params, "user": r.User}, nil
		}},
		"void": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			_, err := io.Copy(io.Discard, r.Body)
			return nil, err
		}},
		"limited": {Upload: true, MaxUpload: 10, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			_, err := io.Copy(io.Discard, r.Body)
			return nil, err
		}},
		// fetch: n bytes of pattern; with "chunked" no Content-Length.
		"fetch": {Result: true, Handler: func(_ context.Context, r *executor.RawRequest, out *executor.RawOutput) (any, error) {
			n, _ := strconv.Atoi(fmt.Sprint(r.Params["n"]))
			out.SetContentType("text/plain")
			if r.Params["chunked"] == nil {
				out.SetContentLength(int64(n))
			}
			_, err := out.Write(pattern(n))
			return nil, err
		}},
		// upper: both: the upload in upper case, returned as a reader.
		"upper": {Upload: true, Result: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			return bytes.NewReader(bytes.ToUpper(b)), nil
		}},
		"failRaw": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			return nil, ccm.NewError("MyError", "no data today")
		}},
		"cut": {Result: true, Handler: func(_ context.Context, _ *executor.RawRequest, out *executor.RawOutput) (any, error) {
			out.SetContentLength(1000)
			_, _ = out.Write(pattern(100))
			return nil, errors.New("disk gone")
		}},
		"message": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			return map[string]any{"not": "raw"}, nil
		}},
		// slow: writes a first chunk, then waits for its context to end.
		"slow": {Result: true, Timeout: -1, Handler: func(ctx context.Context, _ *executor.RawRequest, out *executor.RawOutput) (any, error) {
			_, _ = out.Write([]byte("first"))
			_ = out.Flush()
			<-ctx.Done()
			s.ended <- ctx.Err()
			return nil, ctx.Err()
		}},
	}
}

func newRawService(t *testing.T) *rawService {
	t.Helper()
	s := &rawService{ended: make(chan error, 1)}
	s.ex = executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "alice" && password == "pa:ss" {
			return nil
		}
		return errors.New("no")
	}))
	if err := s.ex.RegisterRaw("test.raw:1.0", rawFuncs(s)); err != nil {
		t.Fatal(err)
	}
	if err := s.ex.Register("test.raw:1.0", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) { return r.Params, nil },
	}); err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(func() {
		s.srv.Close()
		s.ex.Close()
	})
	return s
}

func (s *rawService) url(scheme string) string {
	return scheme + strings.TrimPrefix(s.srv.URL, "http") + "/ftn"
}

func rawIface(t *testing.T, url string, opts ...ccm.RegisterOption) *ccm.Iface {
	t.Helper()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	t.Cleanup(func() { c.Close() })
	if err := c.Register(bg, "raw", "test.raw:1.0", url, opts...); err != nil {
		t.Fatal(err)
	}
	it, err := c.Iface("raw")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// Upload, Download, DownloadTo and both at once, over http and over ws
// (which sends them over http: the recorder sees POSTs, no upgrade).
func TestRawCalls(t *testing.T) {
	for _, scheme := range []string{"http", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			s := newRawService(t)
			it := rawIface(t, s.url(scheme))

			res, err := it.Upload(bg, "store", map[string]any{"name": "x", "n": 2, "o": map[string]any{"b": false}}, strings.NewReader("hello raw"))
			is.NoErr(err)
			m := res.(map[string]any)
			is.Equal(m["len"], 9.0)
			is.Equal(m["body"], "hello raw")
			// Params travel as the query: strings as they are, others as JSON text.
			is.Equal(m["params"], map[string]any{"name": "x", "n": "2", "o": `{"b":false}`})

			// An unknown length goes chunked.
			res, err = it.Upload(bg, "store", nil, io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
			is.NoErr(err)
			is.Equal(res.(map[string]any)["body"], "abcd")

			res, err = it.Upload(bg, "store", nil, nil) // empty upload
			is.NoErr(err)
			is.Equal(res.(map[string]any)["len"], 0.0)

			rc, err := it.Download(bg, "fetch", map[string]any{"n": 70000}, nil)
			is.NoErr(err)
			got, err := io.ReadAll(rc)
			is.NoErr(err)
			is.NoErr(rc.Close())
			is.True(bytes.Equal(got, pattern(70000))) // more than a message may hold

			var buf bytes.Buffer
			n, err := it.DownloadTo(bg, "fetch", map[string]any{"n": 5000, "chunked": true}, nil, &buf)
			is.NoErr(err)
			is.Equal(n, int64(5000))
			is.True(bytes.Equal(buf.Bytes(), pattern(5000)))

			buf.Reset()
			_, err = it.DownloadTo(bg, "upper", nil, strings.NewReader("both ways"), &buf)
			is.NoErr(err)
			is.Equal(buf.String(), "BOTH WAYS")

			rc, err = it.Download(bg, "fetch", map[string]any{"n": 0}, nil) // an empty raw result
			is.NoErr(err)
			got, _ = io.ReadAll(rc)
			rc.Close()
			is.Equal(len(got), 0)

			for _, r := range s.requests() {
				is.True(!r.ws)                      // raw calls never use the WebSocket
				is.Equal(r.method, http.MethodPost) // uploads and message POSTs
			}
			if scheme == "ws" {
				// Plain calls still go over the WebSocket.
				_, err := it.Call(bg, "echo", nil)
				is.NoErr(err)
				reqs := s.requests()
				is.True(reqs[len(reqs)-1].ws)
			}
		})
	}
}

// Clear-text credentials go in an Authorization: Basic header (upload) or
// in the message body (download): never in the URL.
func TestRawCredentialsNeverInURL(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	it := rawIface(t, s.url("http"), ccm.Credentials("alice:pa:ss"))

	res, err := it.Upload(bg, "store", map[string]any{"a": "b"}, strings.NewReader("x"))
	is.NoErr(err)
	is.Equal(res.(map[string]any)["user"], "alice")
	rc, err := it.Download(bg, "fetch", map[string]any{"n": 3}, nil)
	is.NoErr(err)
	rc.Close()

	reqs := s.requests()
	is.Equal(len(reqs), 2)
	for _, r := range reqs {
		is.True(!strings.Contains(r.url, "pa:ss"))   // no secret in the URL
		is.True(!strings.Contains(r.url, "pa%3Ass")) // not even escaped
		is.True(!strings.Contains(r.url, "alice"))
	}
	is.True(strings.HasPrefix(reqs[0].url, "/ftn/test.raw/1.0/store?"))
	is.Equal(reqs[0].auth, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pa:ss")))
	is.Equal(reqs[1].url, "/ftn")
	is.Equal(reqs[1].auth, "") // a message carries "sec" itself

	// Wrong password: SecurityError from the executor, as a FutoIn message.
	bad := rawIface(t, s.url("http"), ccm.Credentials("alice:wrong"))
	_, err = bad.Upload(bg, "store", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrSecurityError))
	is.True(ccm.IsRemote(err))
}

// Errors are FutoIn messages even for rawresult functions; a reply of the
// wrong kind is InternalError; a body cut short is CommError.
func TestRawErrors(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	it := rawIface(t, s.url("http"))

	_, err := it.Download(bg, "failRaw", nil, nil)
	is.Equal(ccm.NameOf(err), ccm.ErrorName("MyError"))
	is.True(ccm.IsRemote(err))

	_, err = it.Download(bg, "echo", nil, nil) // a plain function answers a message
	is.True(errors.Is(err, ccm.ErrInternalError))
	is.True(!ccm.IsRemote(err))
	is.True(strings.Contains(err.Error(), "raw result is expected"))

	_, err = it.Upload(bg, "fetch", nil, strings.NewReader("x")) // raw data, no upload allowed
	is.True(errors.Is(err, ccm.ErrInvalidRequest))

	_, err = it.Upload(bg, "upper", nil, strings.NewReader("x")) // answers raw data
	is.True(errors.Is(err, ccm.ErrInternalError))
	is.True(strings.Contains(err.Error(), "raw result not expected"))

	_, err = it.Upload(bg, "echo", nil, strings.NewReader("x")) // a plain function takes no upload
	is.True(errors.Is(err, ccm.ErrInvalidRequest))
	is.True(ccm.IsRemote(err))

	_, err = it.Upload(bg, "nothere", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrNotImplemented))

	_, err = it.Download(bg, "message", nil, nil) // the handler returned a value
	is.True(errors.Is(err, ccm.ErrInternalError))
	is.True(ccm.IsRemote(err))

	var buf bytes.Buffer
	_, err = it.DownloadTo(bg, "cut", nil, nil, &buf)
	is.True(errors.Is(err, ccm.ErrCommError)) // truncated: 100 of 1000 bytes
	is.Equal(buf.Len(), 100)

	_, err = it.Upload(bg, "store", map[string]any{"b": []byte{1}}, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrInvokerError)) // no URL form for bytes

	_, err = it.DownloadTo(bg, "fetch", nil, nil, nil)
	is.True(errors.Is(err, ccm.ErrInvokerError))
}

// Limits: the executor's MaxUpload, the invoker's MaxRawResult (by
// Content-Length and while reading), and the message limit on errors.
func TestRawLimits(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	it := rawIface(t, s.url("http"), ccm.MaxRawResult(1000))

	_, err := it.Upload(bg, "limited", nil, strings.NewReader("0123456789"))
	is.NoErr(err) // exactly the limit
	_, err = it.Upload(bg, "limited", nil, strings.NewReader("0123456789X"))
	is.True(errors.Is(err, ccm.ErrInvalidRequest))
	is.True(strings.Contains(err.Error(), "upload exceeds 10 bytes"))

	_, err = it.Download(bg, "fetch", map[string]any{"n": 1001}, nil)
	is.True(errors.Is(err, ccm.ErrCommError)) // Content-Length says too much

	var buf bytes.Buffer
	// Over the net/http buffer, so the executor cannot add a Content-Length.
	_, err = it.DownloadTo(bg, "fetch", map[string]any{"n": 10000, "chunked": true}, nil, &buf)
	is.True(errors.Is(err, ccm.ErrCommError))
	is.Equal(buf.Len(), 1000) // never more than the limit

	rc, err := it.Download(bg, "fetch", map[string]any{"n": 1000, "chunked": true}, nil)
	is.NoErr(err)
	got, err := io.ReadAll(rc)
	rc.Close()
	is.NoErr(err) // exactly the limit
	is.Equal(len(got), 1000)

	// A FutoIn message (an error reply) is bounded by MaxMessageSize.
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/futoin+json")
		fmt.Fprintf(w, `{"e":"InvalidRequest","edesc":"%s"}`, strings.Repeat("x", 2000))
	}))
	defer big.Close()
	small := rawIface(t, big.URL, ccm.MaxMessageSize(1000))
	_, err = small.Download(bg, "fetch", nil, nil)
	is.True(errors.Is(err, ccm.ErrCommError))
	is.True(strings.Contains(err.Error(), "exceeds 1000 bytes"))
}

// Cancelling ctx during a download fails the next Read with the
// cancellation and closes the connection: the executor's handler sees its
// context end. The call timeout does the same.
func TestRawDownloadCancel(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	it := rawIface(t, s.url("http"))

	ctx, cancel := context.WithCancel(bg)
	rc, err := it.Download(ctx, "slow", nil, nil)
	is.NoErr(err)
	first := make([]byte, 5)
	_, err = io.ReadFull(rc, first)
	is.NoErr(err)
	is.Equal(string(first), "first")
	cancel()
	_, err = rc.Read(make([]byte, 10))
	is.True(errors.Is(err, ccm.ErrTimeout))
	is.True(errors.Is(err, context.Canceled))
	is.NoErr(rc.Close())
	is.True(<-s.ended != nil) // the executor saw the connection go

	slow := rawIface(t, s.url("http"), ccm.CallTimeout(300*time.Millisecond))
	rc, err = slow.Download(bg, "slow", nil, nil)
	is.NoErr(err)
	_, err = io.ReadAll(rc)
	is.True(errors.Is(err, ccm.ErrTimeout))
	rc.Close()
	is.True(<-s.ended != nil)

	// Cancelled before anything was sent.
	ctx, cancel = context.WithCancel(bg)
	cancel()
	_, err = it.Upload(ctx, "store", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrTimeout))
}

// Endpoints where raw calls cannot go, and MAC credentials: InvokerError,
// nothing sent.
func TestRawRefused(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)

	mac := rawIface(t, s.url("http"), ccm.Credentials("-smac:alice"), ccm.MACKey([]byte("0123456789abcdef"), "HS256"))
	_, err := mac.Upload(bg, "store", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrInvokerError))
	is.True(strings.Contains(err.Error(), "MAC"))
	_, err = mac.Download(bg, "fetch", nil, nil)
	is.True(errors.Is(err, ccm.ErrInvokerError))
	is.Equal(len(s.requests()), 0) // nothing was sent

	tcp := rawIface(t, "tcp://127.0.0.1:9")
	_, err = tcp.Upload(bg, "store", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrInvokerError))

	local := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer local.Close()
	is.NoErr(local.RegisterLocal(bg, "l", "test.raw:1.0", s.ex))
	li, _ := local.Iface("l")
	_, err = li.Download(bg, "fetch", nil, nil)
	is.True(errors.Is(err, ccm.ErrInvokerError))
}

// Replies of a foreign peer: an empty body answers an upload to a function
// without a result (nil result); a non-2xx status is CommError.
func TestRawForeignReplies(t *testing.T) {
	is := is.New(t)
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/oops") {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer peer.Close()
	it := rawIface(t, peer.URL)
	res, err := it.Upload(bg, "void", nil, strings.NewReader("x"))
	is.NoErr(err)
	is.Equal(res, nil)
	_, err = it.Upload(bg, "oops", nil, strings.NewReader("x"))
	is.True(errors.Is(err, ccm.ErrCommError))
	is.True(strings.Contains(err.Error(), "500"))
}

// https:// with a certificate made here, and wss:// falling back to it.
func TestRawTLS(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	srvCfg, pool := testCert(t)
	srv, err := s.ex.ListenTLS("127.0.0.1:0", srvCfg)
	is.NoErr(err)
	defer srv.Close()
	for _, url := range []string{srv.HTTPURL(), srv.WSURL()} {
		it := rawIface(t, url, ccm.TLSConfig(&tls.Config{RootCAs: pool}), ccm.Credentials("alice:pa:ss"))
		res, err := it.Upload(bg, "store", nil, strings.NewReader("secure"))
		is.NoErr(err)
		is.Equal(res.(map[string]any)["user"], "alice")
		var buf bytes.Buffer
		_, err = it.DownloadTo(bg, "upper", nil, strings.NewReader("tls"), &buf)
		is.NoErr(err)
		is.Equal(buf.String(), "TLS")
	}
}

// Unregistering the endpoint ends an open download: the next Read fails
// with CommError, and the executor sees the connection go.
func TestRawUnregisterEndsDownload(t *testing.T) {
	is := is.New(t)
	s := newRawService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	is.NoErr(c.Register(bg, "raw", "test.raw:1.0", s.url("http")))
	it, _ := c.Iface("raw")
	rc, err := it.Download(bg, "slow", nil, nil)
	is.NoErr(err)
	defer rc.Close()
	first := make([]byte, 5)
	_, err = io.ReadFull(rc, first)
	is.NoErr(err)
	is.NoErr(c.Unregister("raw"))
	_, err = rc.Read(make([]byte, 10))
	is.True(errors.Is(err, ccm.ErrCommError))
	is.True(<-s.ended != nil)
	_, err = it.Download(bg, "fetch", nil, nil)
	is.True(errors.Is(err, ccm.ErrInvokerError)) // unregistered
}

// Many raw calls at once, some cancelled at random points (before the
// call, while waiting, while reading), then Close: every call returns
// once, with its data or an error, and nothing is left running (goleak
// in TestMain).
func TestRawStressCancel(t *testing.T) {
	s := newRawService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxConns(4))
	if err := c.Register(bg, "raw", "test.raw:1.0", s.url("ws")); err != nil {
		t.Fatal(err)
	}
	it, _ := c.Iface("raw")
	const n = 60
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			switch i % 4 {
			case 0:
				cancel()
			case 1:
				time.AfterFunc(time.Duration(i)*100*time.Microsecond, cancel)
			}
			if i%2 == 0 {
				_, err := it.Upload(ctx, "store", nil, bytes.NewReader(pattern(10000)))
				errs <- err
				return
			}
			rc, err := it.Download(ctx, "fetch", map[string]any{"n": 50000, "chunked": true}, nil)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err == nil && !bytes.Equal(b, pattern(50000)) {
				err = errors.New("wrong data")
			}
			errs <- err
		}()
	}
	wg.Wait()
	c.Close()
	close(errs)
	count := 0
	for err := range errs {
		count++
		if err != nil && !errors.Is(err, ccm.ErrTimeout) {
			t.Errorf("unexpected error: %v", err) // only cancellations may fail
		}
	}
	if count != n {
		t.Fatalf("%d results, want %d", count, n)
	}
}
