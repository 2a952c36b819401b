package codec_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

// binSeeds are starting points for the binary decoders: valid messages of
// every codec, and the frames of DESIGN.md §6 (declared lengths far beyond
// the bytes present).
func binSeeds(f *testing.F, c pipeline.Codec, requests bool) {
	for _, s := range responseSeeds {
		var tree any
		if json.Unmarshal([]byte(s), &tree) == nil {
			f.Add(libEncode(f, c, tree))
		}
	}
	if requests {
		for _, r := range requestCases[:3] {
			b, err := c.AppendRequest(nil, &r)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, frame := range oomFrames {
		f.Add(append([]byte(c.Name()), frame...))
		f.Add(append([]byte(c.Name()), wrapResult(c, frame)...))
	}
}

func fuzzDecodeResponse(f *testing.F, c pipeline.Codec) {
	binSeeds(f, c, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		var rsp pipeline.Response
		if err := c.DecodeResponse(b, &rsp); err != nil {
			return
		}
		if rsp.HasR == (rsp.E != "") {
			t.Fatalf("decoded % x with HasR=%v and E=%q: want exactly one", b, rsp.HasR, rsp.E)
		}
		libDecode(t, c, b) // what we accept, the library reads too
		var r any
		if rsp.HasR {
			if err := c.DecodeValue(rsp.RawR, &r); err != nil {
				t.Fatalf("the envelope accepted a result that does not decode: %v", err)
			}
		}
		out, err := c.AppendResponse(nil, &rsp)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", rsp, err)
		}
		var again pipeline.Response
		if err := c.DecodeResponse(out, &again); err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", out, err)
		}
		if again.E != rsp.E || again.EDesc != rsp.EDesc || again.Rid != rsp.Rid || again.Sec != rsp.Sec ||
			again.HasR != rsp.HasR || !bytes.Equal(again.RawR, rsp.RawR) {
			t.Fatalf("round trip changed %+v into %+v", rsp, again)
		}
	})
}

func fuzzDecodeRequest(f *testing.F, c pipeline.Codec) {
	binSeeds(f, c, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pipeline.Request
		if err := c.DecodeRequest(b, &r); err != nil {
			return
		}
		if r.P == nil {
			t.Fatal("decoded a request without params")
		}
		out, err := c.AppendRequest(nil, &r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		var again pipeline.Request
		if err := c.DecodeRequest(out, &again); err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", out, err)
		}
		if !sameTree(r.P, again.P) || !sameTree(r.Obf, again.Obf) || r.F != again.F || r.Rid != again.Rid ||
			r.Sec != again.Sec || r.ForceRsp != again.ForceRsp {
			t.Fatalf("round trip changed %+v into %+v", r, again)
		}
	})
}

// sameTree is reflect.DeepEqual where NaN equals NaN.
func sameTree(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.IsNaN(x) && math.IsNaN(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameTree(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameTree(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func FuzzMsgPackDecodeResponse(f *testing.F) { fuzzDecodeResponse(f, codec.MsgPack) }
func FuzzMsgPackDecodeRequest(f *testing.F)  { fuzzDecodeRequest(f, codec.MsgPack) }
func FuzzCBORDecodeResponse(f *testing.F)    { fuzzDecodeResponse(f, codec.CBOR) }
func FuzzCBORDecodeRequest(f *testing.F)     { fuzzDecodeRequest(f, codec.CBOR) }

// FuzzCodecsAgree: any request JSON accepts, re-encoded in MessagePack or
// CBOR (by our encoders and by the libraries), decodes to the same values;
// so does a response's result; and a well-formed JSON document JSON
// refuses as a request is refused by the binary codecs too.
func FuzzCodecsAgree(f *testing.F) {
	for _, s := range []string{
		`{"f":"example.calc:1.2:add","p":{"a":1,"b":2.5,"c":-3,"big":9007199254740993},"rid":"C17","forcersp":true}`,
		`{"f":"a:1.0:f","p":{"s":"\ud83d\ude00\u2028","n":[1e21,-0.5,null,true,{}]},"sec":"u:p","obf":{"lid":"1"}}`,
		`{"f":"a:1.0:f","p":{"x":{"y":{"z":[[[]]]}},"e":"","u":18446744073709551615,"m":-9223372036854775808}}`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"f":"a:1.0:f","p":{},"x":1}`))
	f.Add([]byte(`{"f":"a:1.0:f","p":[],"rid":7}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pipeline.Request
		var tree any
		if codec.JSON.DecodeRequest(b, &r) != nil {
			if json.Unmarshal(b, &tree) != nil {
				return
			}
			again, _ := json.Marshal(tree) // duplicate keys resolved as the tree has them
			if codec.JSON.DecodeRequest(again, &r) == nil {
				return
			}
			for _, c := range binCodecs {
				if err := c.DecodeRequest(libEncode(t, c, tree), &r); err == nil {
					t.Fatalf("%s accepts %s, which JSON refuses", c.Name(), again)
				}
			}
			return
		}
		if err := json.Unmarshal(b, &tree); err != nil {
			t.Fatal(err)
		}
		for _, c := range binCodecs {
			var lib pipeline.Request
			if err := c.DecodeRequest(libEncode(t, c, tree), &lib); err != nil {
				t.Fatalf("%s refuses the library's encoding of %s: %v", c.Name(), b, err)
			}
			if lib.F != r.F || lib.Rid != r.Rid || lib.Sec != r.Sec || lib.ForceRsp != r.ForceRsp {
				t.Fatalf("%s: library-encoded %s decodes to %+v, JSON to %+v", c.Name(), b, lib, r)
			}
		}
		for _, c := range binCodecs {
			out, err := c.AppendRequest(nil, &r)
			if err != nil {
				t.Fatalf("%s cannot encode what JSON decoded (%+v): %v", c.Name(), r, err)
			}
			var got pipeline.Request
			if err := c.DecodeRequest(out, &got); err != nil {
				t.Fatalf("%s does not decode its own % x: %v", c.Name(), out, err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("%s changed %+v into %+v", c.Name(), r, got)
			}
			rsp, err := c.AppendResponse(nil, &pipeline.Response{R: r.P, Rid: r.Rid})
			if err != nil {
				t.Fatal(err)
			}
			var back pipeline.Response
			var v any
			if err := c.DecodeResponse(rsp, &back); err != nil {
				t.Fatal(err)
			}
			if err := c.DecodeValue(back.RawR, &v); err != nil || !reflect.DeepEqual(v, any(r.P)) {
				t.Fatalf("%s result %v (%v), want %v", c.Name(), v, err, r.P)
			}
		}
	})
}

// fuzzTypedValue: typed targets go through the codec library, but only
// with bytes our walker accepted: no panic, no unbounded allocation, and
// what the walker refuses the library never sees.
func fuzzTypedValue(f *testing.F, c pipeline.Codec) {
	for _, frame := range oomFrames {
		f.Add(frame)
	}
	for _, v := range []any{map[string]any{"sum": 3, "tags": []any{"a"}, "b": []byte{1}}, []any{1.5, "x", nil}, "s"} {
		b, err := c.AppendResponse(nil, &pipeline.Response{R: v})
		if err != nil {
			f.Fatal(err)
		}
		var rsp pipeline.Response
		if err := c.DecodeResponse(b, &rsp); err != nil {
			f.Fatal(err)
		}
		f.Add(rsp.RawR)
	}
	type item struct {
		Sum  int            `json:"sum"`
		Tags []string       `json:"tags"`
		B    []byte         `json:"b"`
		M    map[string]any `json:"m"`
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var generic any
		genericErr := c.DecodeValue(raw, &generic)
		var l []any
		var m map[string]any
		var it item
		for _, target := range []any{&l, &m, &it} {
			if err := c.DecodeValue(raw, target); err == nil && genericErr != nil {
				t.Fatalf("typed decoding into %T accepted % x, which the walker refuses: %v", target, raw, genericErr)
			}
		}
	})
}

func FuzzMsgPackDecodeValueTyped(f *testing.F) { fuzzTypedValue(f, codec.MsgPack) }
func FuzzCBORDecodeValueTyped(f *testing.F)    { fuzzTypedValue(f, codec.CBOR) }
