//go:build interop

package interop_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

const binIface = "ftnpipe.bin:1.0"

// binaryCoders are the coders the reference speaks besides JSON: MPCK
// through msgpack-lite (a regular dependency of futoin-invoker), CBOR
// through borc (optional dependency, encodes) and cbor (decodes; only a
// devDependency of futoin-invoker, so interop/package.json adds it).
var binaryCoders = []string{"MPCK", "CBOR"}

// TestBinaryCodersResult: a Go client calls the reference executor with
// MessagePack and CBOR over HTTP and WebSocket; raw bytes ("data") go in
// and come back reversed, with numbers and text alongside.
func TestBinaryCodersResult(t *testing.T) {
	blob := make([]byte, 1000)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	want := bytes.Clone(blob)
	for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
		want[i], want[j] = want[j], want[i]
	}
	for _, coder := range binaryCoders {
		t.Run(coder, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, scheme string) {
				is := is.New(t)
				svc := register(t, scheme, binIface, ccm.Coder(coder))
				res, err := call(t, svc, "reverse", map[string]any{"b": blob, "n": 2.5, "s": "héllo ✓"})
				is.NoErr(err)
				is.Equal(res["b"], want)     // bytes both ways, as bytes
				is.Equal(res["len"], 1000.0) // the reference saw 1000 bytes
				is.Equal(res["n"], 2.5)
				is.Equal(res["s"], "héllo ✓")

				res, err = call(t, svc, "reverse", map[string]any{"b": []byte{}, "n": -7, "s": ""})
				is.NoErr(err)
				is.Equal(res["b"], []byte{})
				is.Equal(res["n"], -7.0)

				var typed struct {
					B   []byte `json:"b"`
					Len int    `json:"len"`
				}
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				defer cancel()
				is.NoErr(svc.CallInto(ctx, "reverse", map[string]any{"b": []byte{1, 2, 3}, "n": 0, "s": "x"}, &typed))
				is.Equal(typed.B, []byte{3, 2, 1})
				is.Equal(typed.Len, 3)
			})
		})
	}
}

// TestBinaryCodersErrors: errors come back in the binary coder too:
// the declared error, and the reference's type check refusing a string
// where "data" is declared (what a JSON caller would have to send).
func TestBinaryCodersErrors(t *testing.T) {
	for _, coder := range binaryCoders {
		t.Run(coder, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, scheme string) {
				is := is.New(t)
				svc := register(t, scheme, binIface, ccm.Coder(coder))
				_, err := call(t, svc, "fail", map[string]any{"b": []byte("x")})
				fe := futoinError(t, err)
				is.Equal(string(fe.Name), declaredName)
				is.Equal(fe.Desc, declaredDesc)
				is.True(ccm.IsRemote(err))

				_, err = call(t, svc, "reverse", map[string]any{"b": "not bytes", "n": 1, "s": "x"})
				fe = futoinError(t, err)
				is.Equal(fe.Name, ccm.InvalidRequest) // a string is not data
				is.True(ccm.IsRemote(err))

				// The other interfaces work in the binary coders as well.
				other := register(t, scheme, testIface, ccm.Coder(coder))
				res, err := call(t, other, "add", map[string]any{"a": 1, "b": 0.5})
				is.NoErr(err)
				is.Equal(res["sum"], 1.5)
			})
		})
	}
}

// TestJSONCannotCarryData: with JSON the same call cannot be made: the Go
// client refuses []byte before sending (InvokerError), and a Base64 string
// in its place is refused by the reference's type check.
func TestJSONCannotCarryData(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, binIface)
		_, err := call(t, svc, "reverse", map[string]any{"b": []byte{1}, "n": 1, "s": "x"})
		is.Equal(ccm.NameOf(err), ccm.InvokerError)
		is.True(strings.Contains(err.Error(), "binary"))
		_, err = call(t, svc, "reverse", map[string]any{"b": "AQ==", "n": 1, "s": "x"})
		is.Equal(ccm.NameOf(err), ccm.InvalidRequest)
	})
}

// TestBinaryCodersOnTheWire: what the reference sends back, byte for byte:
// over HTTP the coder's content type and marker, over WebSocket a frame
// with the marker. (Decoded by our codecs, so also a check that they read
// msgpack-lite's and borc's output.)
func TestBinaryCodersOnTheWire(t *testing.T) {
	for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
		t.Run(c.Name(), func(t *testing.T) {
			is := is.New(t)
			req := pipeline.Request{F: binIface + ":reverse", P: map[string]any{"b": []byte{1, 2}, "n": 1e21, "s": "ü"}}
			body, err := c.AppendRequest(nil, &req)
			is.NoErr(err)
			hr, err := http.NewRequest(http.MethodPost, endpoint("http"), bytes.NewReader(body))
			is.NoErr(err)
			hr.Header.Set("Content-Type", c.ContentType())
			rsp, err := http.DefaultClient.Do(hr)
			is.NoErr(err)
			b, err := io.ReadAll(rsp.Body)
			rsp.Body.Close()
			is.NoErr(err)
			is.Equal(rsp.Header.Get("Content-Type"), c.ContentType())
			is.True(bytes.HasPrefix(b, []byte(c.Name())))
			checkReversed(t, c, b, "")

			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, endpoint("ws"), nil)
			is.NoErr(err)
			defer conn.CloseNow()
			req.Rid = "C1"
			body, err = c.AppendRequest(nil, &req)
			is.NoErr(err)
			is.NoErr(conn.Write(ctx, websocket.MessageBinary, body))
			_, b, err = conn.Read(ctx)
			is.NoErr(err)
			is.True(bytes.HasPrefix(b, []byte(c.Name())))
			checkReversed(t, c, b, "C1")
		})
	}
}

func checkReversed(t *testing.T, c pipeline.Codec, b []byte, rid string) {
	t.Helper()
	is := is.New(t)
	var rsp pipeline.Response
	is.NoErr(c.DecodeResponse(b, &rsp))
	is.Equal(rsp.E, pipeline.ErrorName(""))
	is.Equal(rsp.Rid, rid)
	var v any
	is.NoErr(c.DecodeValue(rsp.RawR, &v))
	is.Equal(v, map[string]any{"b": []byte{2, 1}, "len": 2.0, "n": 1e21, "s": "ü"})
}

// TestBinaryCodersMAC: MAC-signed calls in MessagePack and CBOR to the
// reference: the MAC covers the decoded tree, so the reference's check of
// our request and our check of its signed reply agree in every codec.
func TestBinaryCodersMAC(t *testing.T) {
	for _, coder := range binaryCoders {
		t.Run(coder, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, scheme string) {
				macCalls(t, register(t, scheme, macIface, ccm.Coder(coder),
					ccm.Credentials("-smac:smacuser"), ccm.MACKeyBase64(smacKey, "HS256")), "smacuser")
				macCalls(t, register(t, scheme, macIface, ccm.Coder(coder),
					ccm.Credentials("-hmac:hmacuser"), ccm.MACKeyBase64(hmacKey, "SHA256")), "hmacuser")
			})
		})
	}
}
