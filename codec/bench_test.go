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
