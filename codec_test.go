package ccm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

// binService is an executor whose handlers pass bytes through.
func binService(t testing.TB, opts ...executor.Option) *executor.Server {
	_, srv := binExecutor(t, opts...)
	return srv
}

// binExecutor is binService that also returns the executor, to listen on
// more transports.
func binExecutor(t testing.TB, opts ...executor.Option) (*executor.Executor, *executor.Server) {
	t.Helper()
	ex := executor.New(opts...)
	err := ex.Register("test.bin:1.0", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) { return r.Params, nil },
		"blob": func(_ context.Context, r *executor.Request) (any, error) {
			b, _ := r.Params["b"].([]byte)
			return append([]byte("got:"), b...), nil
		},
		"kind": func(_ context.Context, r *executor.Request) (any, error) {
			_, isBytes := r.Params["b"].([]byte)
			return map[string]any{"bytes": isBytes, "user": r.User}, nil
		},
		"fail": func(context.Context, *executor.Request) (any, error) {
			return nil, ccm.NewError("MyError", "it failed on purpose")
		},
		"none": func(context.Context, *executor.Request) (any, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); ex.Close() })
	return ex, srv
}

// TestCoders: every codec over ws, http and tcp to our executor: results,
// binary data both ways, typed results, remote errors.
func TestCoders(t *testing.T) {
	ex, srv := binExecutor(t)
	tcp, err := ex.ListenTCP("")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	urls := map[string]string{"ws": srv.WSURL(), "http": srv.HTTPURL(), "tcp": tcp.URL()}
	blob := []byte{0, 1, 2, 0xfe, 0xff}
	for _, coder := range []string{"JSON", "MPCK", "CBOR"} {
		for scheme, url := range urls {
			t.Run(coder+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder(coder))
				defer c.Close()
				is.NoErr(c.Register(bg, "bin", "test.bin:1.0", url))
				it, err := c.Iface("bin")
				is.NoErr(err)

				p := map[string]any{"s": "ü", "n": 1.5, "i": 7, "l": []any{true, nil, "x"}, "m": map[string]any{}}
				res, err := it.Call(bg, "echo", p)
				is.NoErr(err)
				is.Equal(res, map[string]any{"s": "ü", "n": 1.5, "i": 7.0, "l": []any{true, nil, "x"}, "m": map[string]any{}})

				res, err = it.Call(bg, "none", nil)
				is.NoErr(err)
				is.Equal(res, map[string]any{})

				_, err = it.Call(bg, "fail", nil)
				is.Equal(ccm.NameOf(err), ccm.ErrorName("MyError"))
				is.True(ccm.IsRemote(err))

				if coder == "JSON" {
					_, err = it.Call(bg, "blob", map[string]any{"b": blob})
					is.Equal(ccm.NameOf(err), ccm.InvokerError) // JSON cannot carry bytes
					is.True(strings.Contains(err.Error(), "binary"))
					return
				}
				res, err = it.Call(bg, "blob", map[string]any{"b": blob})
				is.NoErr(err)
				is.Equal(res, append([]byte("got:"), blob...)) // bytes both ways

				var out struct {
					Bytes bool `json:"bytes"`
				}
				is.NoErr(it.CallInto(bg, "kind", map[string]any{"b": blob}, &out))
				is.True(out.Bytes) // the handler saw []byte
				var raw []byte
				is.NoErr(it.CallInto(bg, "blob", map[string]any{"b": []byte{}}, &raw))
				is.Equal(raw, []byte("got:"))
			})
		}
	}
}

// TestCoderPerEndpoint: Register's Coder overrides the CCM's default.
func TestCoderPerEndpoint(t *testing.T) {
	is := is.New(t)
	srv := binService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder("MPCK"))
	defer c.Close()
	is.NoErr(c.Register(bg, "bin", "test.bin:1.0", srv.HTTPURL()))
	is.NoErr(c.Register(bg, "json", "test.bin:1.0", srv.HTTPURL(), ccm.Coder("JSON")))
	bin, _ := c.Iface("bin")
	js, _ := c.Iface("json")
	_, err := bin.Call(bg, "blob", map[string]any{"b": []byte("x")})
	is.NoErr(err)
	_, err = js.Call(bg, "blob", map[string]any{"b": []byte("x")})
	is.Equal(ccm.NameOf(err), ccm.InvokerError)
}

func TestCoderUnknown(t *testing.T) {
	for _, name := range []string{"", "json", "MSGPACK", "BSON"} {
		is := is.New(t)
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
		err := c.Register(bg, "x", "test.bin:1.0", "http://127.0.0.1:1/", ccm.Coder(name))
		is.Equal(ccm.NameOf(err), ccm.InvokerError)
		is.True(strings.Contains(err.Error(), "coder"))
		_, err = c.Iface("x")
		is.True(err != nil) // nothing registered
		c.Close()

		c = ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder(name)) // a bad default fails at Register too
		err = c.Register(bg, "x", "test.bin:1.0", "ws://127.0.0.1:1/")
		is.Equal(ccm.NameOf(err), ccm.InvokerError)
		c.Close()
	}
}

// TestCoderMACSigned: MAC signatures cover the decoded tree, so a signed
// MessagePack or CBOR call, bytes included, verifies at our executor and
// its signed response verifies here.
func TestCoderMACSigned(t *testing.T) {
	key, _ := mac.DecodeKey(testKeyB64)
	srv := binService(t, executor.WithCredentials(executor.Credentials{"svc": {MACKey: key}}))
	for _, coder := range []string{"MPCK", "CBOR"} {
		for scheme, url := range map[string]string{"ws": srv.WSURL(), "http": srv.HTTPURL()} {
			t.Run(coder+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder(coder))
				defer c.Close()
				is.NoErr(c.Register(bg, "bin", "test.bin:1.0", url, ccm.Credentials("-smac:svc"), ccm.MACKeyBase64(testKeyB64, "HS256")))
				it, _ := c.Iface("bin")
				res, err := it.Call(bg, "kind", map[string]any{"b": []byte{1, 2}, "n": int64(1 << 60), "f": float32(0.1)})
				is.NoErr(err)
				is.Equal(res, map[string]any{"bytes": true, "user": "svc"})
				res, err = it.Call(bg, "blob", map[string]any{"b": []byte{9}})
				is.NoErr(err)
				is.Equal(res, []byte("got:\x09"))
				res, err = it.Call(bg, "none", nil)
				is.NoErr(err)
				is.Equal(res, map[string]any{}) // a nil result: {} in every codec, signed

				is.NoErr(c.Register(bg, "wrong", "test.bin:1.0", url, ccm.Credentials("-smac:svc"), ccm.MACKey([]byte("not the key"), "HS256")))
				wrong, _ := c.Iface("wrong")
				_, err = wrong.Call(bg, "kind", map[string]any{"b": []byte{1}})
				is.True(errors.Is(err, ccm.ErrSecurityError))
			})
		}
	}
}

// jsonOnlyPeer answers every request with a JSON-coded InvalidRequest,
// as an executor that cannot read the binary codec must (WIRE.md §10.1),
// or with a JSON result when result is set.
type jsonOnlyPeer struct {
	result bool
	mu     sync.Mutex
	ctypes []string
	bodies [][]byte
}

func (p *jsonOnlyPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.ctypes = append(p.ctypes, r.Header.Get("Content-Type"))
	p.bodies = append(p.bodies, b)
	p.mu.Unlock()
	w.Header().Set("Content-Type", codec.ContentTypeJSON)
	if p.result {
		_, _ = w.Write([]byte(`{"r":{"ok":true}}`))
		return
	}
	_, _ = w.Write([]byte(`{"e":"InvalidRequest","edesc":"coding not supported"}`))
}

func TestCoderJSONErrorReply(t *testing.T) {
	is := is.New(t)
	peer := &jsonOnlyPeer{}
	hs := httptest.NewServer(peer)
	defer hs.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder("CBOR"), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, hs.URL)
	_, err := it.Call(bg, "x", map[string]any{"b": []byte{1}})
	is.Equal(ccm.NameOf(err), ccm.InvalidRequest) // the peer's JSON error is read
	is.True(ccm.IsRemote(err))
	peer.mu.Lock()
	is.Equal(peer.ctypes, []string{codec.ContentTypeCBOR})
	is.True(strings.HasPrefix(string(peer.bodies[0]), "CBOR"))
	peer.mu.Unlock()

	peer.result = true
	res, err := it.Call(bg, "x", nil)
	is.NoErr(err) // a JSON result to a CBOR call is read too
	is.Equal(res, map[string]any{"ok": true})
	var typed struct {
		OK bool `json:"ok"`
	}
	is.NoErr(it.CallInto(bg, "x", nil, &typed))
	is.True(typed.OK)
}

// binaryOnlyPeer answers every request, whatever its codec, with a
// MessagePack result holding bytes.
func binaryOnlyPeer(w http.ResponseWriter, r *http.Request) {
	b, _ := codec.MsgPack.AppendResponse(nil, &pipeline.Response{R: map[string]any{"b": []byte{1}, "n": 2}})
	w.Header().Set("Content-Type", codec.ContentTypeMsgPack)
	_, _ = w.Write(b)
}

// TestCoderForeignResult: a result in another codec is taken as long as
// the caller's codec can carry it; bytes cannot become JSON.
func TestCoderForeignResult(t *testing.T) {
	is := is.New(t)
	hs := httptest.NewServer(http.HandlerFunc(binaryOnlyPeer))
	defer hs.Close()
	for coder, ok := range map[string]bool{"JSON": false, "CBOR": true, "MPCK": true} {
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Coder(coder), ccm.RetryCount(0))
		it := register(t, c, hs.URL)
		res, err := it.Call(bg, "x", nil)
		if ok {
			is.NoErr(err)
			is.Equal(res, map[string]any{"b": []byte{1}, "n": 2.0})
		} else {
			is.Equal(ccm.NameOf(err), ccm.CommError)
			is.True(strings.Contains(err.Error(), "MPCK result"))
		}
		c.Close()
	}
}
