package executor_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

// encodeReq encodes a request with c.
func encodeReq(t *testing.T, c pipeline.Codec, r pipeline.Request) []byte {
	t.Helper()
	b, err := c.AppendRequest(nil, &r)
	is.New(t).NoErr(err) // encode request
	return b
}

// decodeRsp decodes a response with c, the result into a generic value.
func decodeRsp(t *testing.T, c pipeline.Codec, b []byte) (pipeline.Response, any) {
	t.Helper()
	is := is.New(t)
	var rsp pipeline.Response
	is.NoErr(c.DecodeResponse(b, &rsp)) // the reply is in the request's codec
	var v any
	if rsp.HasR {
		is.NoErr(c.DecodeValue(rsp.RawR, &v))
	}
	return rsp, v
}

func postBytes(t *testing.T, url, ctype string, body []byte) (string, []byte) {
	t.Helper()
	is := is.New(t)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	is.NoErr(err)
	req.Header.Set("Content-Type", ctype)
	rsp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	is.NoErr(err)
	is.Equal(rsp.StatusCode, http.StatusOK)
	return rsp.Header.Get("Content-Type"), b
}

// TestHTTPBinaryCodecs: a POST in MessagePack or CBOR is answered in the
// same codec, with its content type (the vnd form mirrored), and binary
// data travels both ways.
func TestHTTPBinaryCodecs(t *testing.T) {
	_, srv := start(t)
	blob := []byte{0, 1, 0xfe, 0xff}
	for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
		t.Run(c.Name(), func(t *testing.T) {
			is := is.New(t)
			body := encodeReq(t, c, pipeline.Request{F: "test.svc:1.0:echo", P: map[string]any{"blob": blob, "n": 2}})
			ctype, b := postBytes(t, srv.HTTPURL(), c.ContentType(), body)
			is.Equal(ctype, c.ContentType())
			rsp, v := decodeRsp(t, c, b)
			is.Equal(rsp.E, pipeline.ErrorName(""))
			is.Equal(v, map[string]any{"blob": blob, "n": 2.0}) // bytes survive the round trip

			ctype, b = postBytes(t, srv.HTTPURL(), codec.VndContentType(c), body)
			is.Equal(ctype, codec.VndContentType(c)) // vnd. mirrored
			_, v = decodeRsp(t, c, b)
			is.Equal(v, map[string]any{"blob": blob, "n": 2.0})

			// A nil result is an empty map in every codec.
			body = encodeReq(t, c, pipeline.Request{F: "test.svc:1.0:nothing", P: map[string]any{}})
			_, b = postBytes(t, srv.HTTPURL(), c.ContentType(), body)
			_, v = decodeRsp(t, c, b)
			is.Equal(v, map[string]any{})

			// Errors come in the request's codec too.
			body = encodeReq(t, c, pipeline.Request{F: "test.svc:1.0:fail", P: map[string]any{"name": "NotEnoughMoney"}})
			_, b = postBytes(t, srv.HTTPURL(), c.ContentType(), body)
			rsp, _ = decodeRsp(t, c, b)
			is.Equal(rsp.E, pipeline.ErrorName("NotEnoughMoney"))
			is.Equal(rsp.EDesc, "described")

			// A malformed message of a known codec: InvalidRequest, in it.
			ctype, b = postBytes(t, srv.HTTPURL(), c.ContentType(), append([]byte(c.Name()), 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0))
			is.Equal(ctype, c.ContentType())
			rsp, _ = decodeRsp(t, c, b)
			is.Equal(rsp.E, pipeline.InvalidRequest)

			// A JSON body is answered in JSON, whatever the Content-Type says.
			ctype, b = postBytes(t, srv.HTTPURL(), c.ContentType(), []byte(`{"f":"test.svc:1.0:scalar","p":{}}`))
			is.Equal(ctype, codec.ContentTypeJSON)
			_, v = decodeRsp(t, codec.JSON, b)
			is.Equal(v, 3.0)
		})
	}
	t.Run("JSON cannot carry a binary result", func(t *testing.T) {
		is := is.New(t)
		body := encodeReq(t, codec.MsgPack, pipeline.Request{F: "test.svc:1.0:echo", P: map[string]any{"blob": blob}})
		// The same call in JSON cannot even be written; the executor's
		// JSON encoder refuses a []byte result with InternalError.
		_, err := codec.JSON.AppendRequest(nil, &pipeline.Request{F: "test.svc:1.0:echo", P: map[string]any{"blob": blob}})
		is.True(err != nil)
		_, b := postBytes(t, srv.HTTPURL(), codec.ContentTypeMsgPack, body)
		_, v := decodeRsp(t, codec.MsgPack, b)
		is.Equal(v, map[string]any{"blob": blob})
	})
}

// TestWSBinaryCodecs: over one WebSocket, requests in each codec are
// answered in binary frames of the same codec, with their rids.
func TestWSBinaryCodecs(t *testing.T) {
	_, srv := start(t)
	conn := dial(t, srv.WSURL())
	blob := bytes.Repeat([]byte{0xab}, 300)
	for i, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR, codec.JSON, codec.CBOR} {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rid := "C" + string(rune('1'+i))
		p := map[string]any{"blob": blob}
		if c == codec.JSON {
			p = map[string]any{"s": "x"}
		}
		is.NoErr(conn.Write(ctx, websocket.MessageBinary, encodeReq(t, c, pipeline.Request{F: "test.svc:1.0:echo", P: p, Rid: rid})))
		typ, b, err := conn.Read(ctx)
		cancel()
		is.NoErr(err)
		is.Equal(typ, websocket.MessageBinary)
		rsp, v := decodeRsp(t, c, b)
		is.Equal(rsp.Rid, rid)
		is.Equal(v, p)
	}
	// A malformed binary request with a readable rid gets its error with that rid.
	is := is.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bad := []byte("MPCK\x83\xa3rid\xa2C9\xa1f\x01\xa1p\x80") // "f" is a number
	is.NoErr(conn.Write(ctx, websocket.MessageBinary, bad))
	_, b, err := conn.Read(ctx)
	is.NoErr(err)
	rsp, _ := decodeRsp(t, codec.MsgPack, b)
	is.Equal(rsp.E, pipeline.InvalidRequest)
	is.Equal(rsp.Rid, "C9")
}
