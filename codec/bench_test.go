package codec_test

import (
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

func BenchmarkAppendRequest(b *testing.B) {
	req := pipeline.Request{
		F:        "example.calc:1.2:add",
		P:        map[string]any{"a": 1, "b": 2.5, "name": "Zoë", "tags": []any{"x", "y"}},
		Rid:      "C17",
		ForceRsp: true,
		Sec:      "user:password",
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = codec.JSON.AppendRequest(buf[:0], &req)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeResponse(b *testing.B) {
	frame := []byte(`{"r":{"sum":3,"items":[1,2,3],"note":"ok"},"rid":"C17","sec":"c2lnbmF0dXJl"}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var rsp pipeline.Response
	for b.Loop() {
		if err := codec.JSON.DecodeResponse(frame, &rsp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeResponseValue adds decoding the result into a generic
// value, what a SimpleCCM call pays on top of the envelope.
func BenchmarkDecodeResponseValue(b *testing.B) {
	frame := []byte(`{"r":{"sum":3,"items":[1,2,3],"note":"ok"},"rid":"C17"}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var rsp pipeline.Response
	for b.Loop() {
		if err := codec.JSON.DecodeResponse(frame, &rsp); err != nil {
			b.Fatal(err)
		}
		var v any
		if err := codec.JSON.DecodeValue(rsp.RawR, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecs compares the three codecs on the same messages in one
// run: the request an invoker encodes and an executor decodes, and the
// response the executor encodes and the invoker decodes (envelope, then
// the result into a generic value).
func BenchmarkCodecs(b *testing.B) {
	req := pipeline.Request{
		F:        "example.calc:1.2:add",
		P:        map[string]any{"a": 1, "b": 2.5, "name": "Zoë", "tags": []any{"x", "y"}},
		Rid:      "C17",
		ForceRsp: true,
		Sec:      "user:password",
	}
	rsp := pipeline.Response{R: map[string]any{"sum": 3, "items": []any{1, 2, 3}, "note": "ok"}, Rid: "C17"}
	for _, c := range []pipeline.Codec{codec.JSON, codec.MsgPack, codec.CBOR} {
		reqB, err := c.AppendRequest(nil, &req)
		if err != nil {
			b.Fatal(err)
		}
		rspB, err := c.AppendResponse(nil, &rsp)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name()+"/AppendRequest", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(reqB)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.AppendRequest(buf[:0], &req)
			}
		})
		b.Run(c.Name()+"/DecodeRequest", func(b *testing.B) {
			var r pipeline.Request
			b.SetBytes(int64(len(reqB)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.DecodeRequest(reqB, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name()+"/AppendResponse", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(rspB)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.AppendResponse(buf[:0], &rsp)
			}
		})
		b.Run(c.Name()+"/DecodeResponseValue", func(b *testing.B) {
			var r pipeline.Response
			b.SetBytes(int64(len(rspB)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.DecodeResponse(rspB, &r); err != nil {
					b.Fatal(err)
				}
				var v any
				if err := c.DecodeValue(r.RawR, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBinaryData: a 4 KiB byte string as a result, in the codecs
// that carry it.
func BenchmarkBinaryData(b *testing.B) {
	blob := make([]byte, 4096)
	rsp := pipeline.Response{R: map[string]any{"b": blob}, Rid: "C1"}
	for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
		frame, err := c.AppendResponse(nil, &rsp)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			var r pipeline.Response
			for b.Loop() {
				if err := c.DecodeResponse(frame, &r); err != nil {
					b.Fatal(err)
				}
				var v any
				if err := c.DecodeValue(r.RawR, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
