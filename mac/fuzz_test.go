package mac_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

// FuzzBaseCodecIndependent: the MAC base is a function of the decoded tree,
// not of the bytes. A message decoded by ftnpipe's JSON codec, decoded by
// encoding/json, and re-encoded by the codec and decoded again, all give
// the same base; so does the same message re-encoded with MessagePack and
// CBOR and decoded by them; and a request decoded into pipeline.Request
// signs like its generic tree.
func FuzzBaseCodecIndependent(f *testing.F) {
	for _, s := range []string{
		`{"f":"example.calc:1.0:add","p":{"b":2,"a":"s","c":[true,null,1.5],"d":{}},"rid":"C1","sec":"x"}`,
		`{"r":{"sum":3},"rid":"C1"}`, `{"e":"InvalidRequest","edesc":"bad","rid":"C1"}`,
		`{"f":"a.b:1.0:f","p":{"big":1e21,"small":1e-7,"neg":-0,"u":"\u00e9\ud83d\ude00","n":[0,1,2,3,4,5,6,7,8,9,10,11]}}`,
		`{"f":"a.b:1.0:f","p":{},"forcersp":true,"obf":{"lid":"x","slvl":"Info"}}`,
	} {
		f.Add([]byte(s))
	}
	key, _ := mac.NewKey("HS256", []byte("fuzz key"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast any
		if codec.JSON.DecodeValue(data, &fast) != nil {
			return
		}
		m, ok := fast.(map[string]any)
		if !ok {
			return
		}
		base1, err1 := mac.AppendBase(nil, m)
		var std map[string]any
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("encoding/json refused what the codec accepted: %v", err)
		}
		base2, err2 := mac.AppendBase(nil, std)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(base1, base2) {
			t.Fatalf("bases differ by decoder:\n%q\n%q", base1, base2)
		}
		// Re-encode through the codec (as a response result) and decode again.
		re, err := codec.JSON.AppendResponse(nil, &pipeline.Response{R: m})
		if err != nil {
			return // not representable (e.g. NaN can't occur; defensive)
		}
		var rsp pipeline.Response
		if err := codec.JSON.DecodeResponse(re, &rsp); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		var again any
		if err := codec.JSON.DecodeValue(rsp.RawR, &again); err != nil {
			t.Fatal(err)
		}
		base3, _ := mac.AppendBase(nil, again.(map[string]any))
		if !bytes.Equal(base1, base3) {
			t.Fatalf("base changed by a re-encode:\n%q\n%q", base1, base3)
		}
		// The same tree through the binary codecs.
		for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
			b, err := c.AppendResponse(nil, &pipeline.Response{R: m})
			if err != nil {
				t.Fatalf("%s cannot encode what JSON decoded: %v", c.Name(), err)
			}
			var rsp pipeline.Response
			var v any
			if err := c.DecodeResponse(b, &rsp); err != nil {
				t.Fatal(err)
			}
			if err := c.DecodeValue(rsp.RawR, &v); err != nil {
				t.Fatal(err)
			}
			base, err := mac.AppendBase(nil, v.(map[string]any))
			if (err == nil) != (err1 == nil) || !bytes.Equal(base, base1) {
				t.Fatalf("%s decodes to another base:\n%q\n%q", c.Name(), base1, base)
			}
		}
		// A valid request signs the same as a struct and as a tree.
		var req pipeline.Request
		if codec.JSON.DecodeRequest(data, &req) == nil {
			if _, hasForce := m["forcersp"]; hasForce && !req.ForceRsp {
				return // "forcersp":false is dropped by the struct form
			}
			s1, e1 := key.SignRequest(nil, &req)
			s2, e2 := key.SignTree(nil, m)
			if e1 == nil && e2 == nil && !bytes.Equal(s1, s2) {
				t.Fatalf("struct and tree sign differently for %q", data)
			}
		}
	})
}

// FuzzBaseBinaryCodecs: a request with the Go values a caller passes
// (every integer width, float32, []byte, nesting) has the MAC base that
// the peer computes after decoding it with MessagePack or CBOR: the
// signature the invoker makes is the one the executor checks.
func FuzzBaseBinaryCodecs(f *testing.F) {
	f.Add([]byte{0, 1, 0xff}, int64(-5), uint64(1<<60), 1.5, float32(0.1), "k", int8(-8), uint16(65535))
	f.Add([]byte{}, int64(1<<53+1), uint64(0), -0.0, float32(3), "", int8(127), uint16(0))
	f.Add([]byte("MPCK"), int64(-1<<63), uint64(1<<64-1), 1e21, float32(1e-7), "\u00e9\xff", int8(0), uint16(1))
	f.Fuzz(func(t *testing.T, blob []byte, i int64, u uint64, fl float64, f32 float32, key string, i8 int8, u16 uint16) {
		p := map[string]any{
			"blob": blob, "i": i, "u": u, "f": fl, "f32": f32, "i8": i8, "u16": u16,
			"list": []any{blob, int32(i8), uint8(u16), key, nil, true}, "m": map[string]any{key: []any{u, i}},
		}
		req := pipeline.Request{F: "a.b:1.0:f", P: p, Rid: "C1", ForceRsp: true}
		want, werr := mac.AppendBase(nil, map[string]any{"f": req.F, "p": p, "rid": req.Rid, "forcersp": true})
		for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
			b, err := c.AppendRequest(nil, &req)
			if err != nil {
				t.Fatalf("%s: %v", c.Name(), err)
			}
			var got pipeline.Request
			if err := c.DecodeRequest(b, &got); err != nil {
				t.Fatalf("%s: %v", c.Name(), err)
			}
			base, err := mac.AppendBase(nil, map[string]any{"f": got.F, "p": got.P, "rid": got.Rid, "forcersp": got.ForceRsp})
			if (err == nil) != (werr == nil) || !bytes.Equal(base, want) {
				t.Fatalf("%s: the peer's base differs:\nsent %q (%v)\ngot  %q (%v)", c.Name(), want, werr, base, err)
			}
		}
	})
}

// TestBaseOfBinaryDecodedValues: the values only the binary decoders
// produce render as a JavaScript peer renders them: integers beyond 2^53
// as the nearest double, byte strings raw.
func TestBaseOfBinaryDecodedValues(t *testing.T) {
	tree := map[string]any{"f": "a.b:1.0:f", "p": map[string]any{
		"big": int64(1<<53 + 1), "neg": int64(-1 << 62), "u": uint64(1<<64 - 1), "b": []byte("x\x00y"), "n": 3.0,
	}}
	for _, c := range []pipeline.Codec{codec.MsgPack, codec.CBOR} {
		b, err := c.AppendResponse(nil, &pipeline.Response{R: tree})
		if err != nil {
			t.Fatal(err)
		}
		var rsp pipeline.Response
		var v any
		if err := c.DecodeResponse(b, &rsp); err != nil {
			t.Fatal(err)
		}
		if err := c.DecodeValue(rsp.RawR, &v); err != nil {
			t.Fatal(err)
		}
		base, err := mac.AppendBase(nil, v.(map[string]any))
		want := "f:a.b:1.0:f;p:b:x\x00y;big:9007199254740992;n:3;neg:-4611686018427388000;u:18446744073709552000;;"
		if err != nil || string(base) != want {
			t.Fatalf("%s: base %q (%v), want %q", c.Name(), base, err, want)
		}
	}
}
