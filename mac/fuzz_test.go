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
// the same base; and a request decoded into pipeline.Request signs like
// its generic tree. (MessagePack and CBOR join this test when those codecs
// land; today JSON is the only codec.)
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
