package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

// Seeds from the spec examples (WIRE.md §3, §4) and the shapes that broke
// other implementations (DESIGN.md §6); more live in testdata/fuzz.
var responseSeeds = []string{
	`{"r":{"sum":3},"rid":"C17"}`,
	`{"r":3}`,
	`{"e":"InvalidRequest","edesc":"Missing parameter b","rid":"C17"}`,
	`{"r":{},"rid":"S1","sec":"c2lnbmF0dXJl"}`,
	`{"r":null}`,
	`null`,
	`{"rid":5,"r":1}`,
	`{"e":"Timeout"}`,
	`{"r":"\u2028\ud800"}`,
	`{"r":[1,2,{"a":[]}],"e":null}`,
}

// FuzzDecodeResponse: no panic; a decoded response has exactly one of a
// result or an error; re-encoding and decoding it again keeps e, edesc,
// rid and the raw result; only valid JSON objects are accepted.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rsp pipeline.Response
		if err := codec.JSON.DecodeResponse(b, &rsp); err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
			t.Fatalf("accepted %q, which encoding/json rejects as an object: %v", b, err)
		}
		if rsp.HasR == (rsp.E != "") {
			t.Fatalf("decoded %q with HasR=%v and E=%q: want exactly one", b, rsp.HasR, rsp.E)
		}
		if rsp.HasR && !json.Valid(rsp.RawR) {
			t.Fatalf("RawR %q is not a JSON value", rsp.RawR)
		}
		out, err := codec.JSON.AppendResponse(nil, &rsp)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", rsp, err)
		}
		var again pipeline.Response
		if err := codec.JSON.DecodeResponse(out, &again); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if again.E != rsp.E || again.EDesc != rsp.EDesc || again.Rid != rsp.Rid || again.Sec != rsp.Sec ||
			again.HasR != rsp.HasR || !bytes.Equal(again.RawR, rsp.RawR) {
			t.Fatalf("round trip changed %+v into %+v", rsp, again)
		}
	})
}

// FuzzDecodeRequest: a request that decodes re-encodes to one that decodes
// to the same values.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"f":"example.calc:1.2:add","p":{"a":1,"b":2},"rid":"C17","forcersp":true}`,
		`{"f":"a:1.0:f","p":{},"sec":"user:pass","obf":{"lid":"1"}}`,
		`{"f":"a:1.0:f","p":{"s":"\ud83d\ude00\u2028","n":[1e21,-0.5,null]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pipeline.Request
		if err := codec.JSON.DecodeRequest(b, &r); err != nil {
			return
		}
		if r.P == nil {
			t.Fatal("decoded a request without params")
		}
		out, err := codec.JSON.AppendRequest(nil, &r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		var again pipeline.Request
		if err := codec.JSON.DecodeRequest(out, &again); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip changed %+v into %+v", r, again)
		}
	})
}

// FuzzAppendRequest: encoding/json accepts what we write and reads back the
// values (and number spellings) it would have written itself; we refuse
// exactly what encoding/json refuses.
func FuzzAppendRequest(f *testing.F) {
	f.Add("example.calc:1.2:add", "a", "text", 1.5, int64(2), "3", true, "C1", "user:pass")
	f.Add("a\u2028b", "k\xff", "\x00\x1f\"\\", 1e21, int64(math.MinInt64), "1e-7", false, "", "")
	f.Add("", "", "", 1e-7, int64(0), "-0.5", false, "S9", "-smac:x")
	f.Add("f", "k", "\xe2\x82", math.Inf(1), int64(1), "Inf", true, "C2", "")
	f.Add("f", "k", "s", 0.0, int64(1), "0x10", true, "C2", "")
	f.Fuzz(func(t *testing.T, fn, key, s string, fl float64, i int64, num string, b bool, rid, sec string) {
		p := map[string]any{
			key:    s,
			"fl":   fl,
			"i":    i,
			"b":    b,
			"list": []any{s, fl, nil, b, map[string]any{key: i}, []any{}},
		}
		if num != "" { // encoding/json writes an empty Number as 0; we refuse it
			p["n"] = json.Number(num)
		}
		req := pipeline.Request{F: fn, P: p, Rid: rid, Sec: sec, ForceRsp: b, Obf: map[string]any{"lid": s}}
		ours, err := codec.JSON.AppendRequest(nil, &req)

		want := map[string]any{"f": fn, "p": p, "obf": req.Obf}
		if rid != "" {
			want["rid"] = rid
		}
		if sec != "" {
			want["sec"] = sec
		}
		if b {
			want["forcersp"] = true
		}
		std, stdErr := json.Marshal(want)
		if err != nil {
			if stdErr == nil && !outOfRange(num) {
				t.Fatalf("we refuse %+v (%v), encoding/json does not", req, err)
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("we encode %+v as %q, encoding/json refuses it: %v", req, ours, stdErr)
		}
		if !json.Valid(ours) {
			t.Fatalf("invalid JSON: %q", ours)
		}
		got, exp := stdDecode(t, ours), stdDecode(t, std)
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("encoding differs:\n ours %s\n std  %s", ours, std)
		}
		var dec pipeline.Request
		if err := codec.JSON.DecodeRequest(ours, &dec); err != nil {
			t.Fatalf("our own output %q does not decode: %v", ours, err)
		}
		str := func(k string) string { s, _ := exp[k].(string); return s }
		if dec.F != str("f") || dec.Rid != str("rid") || dec.Sec != str("sec") || dec.ForceRsp != b {
			t.Fatalf("decoded %+v from %q", dec, ours)
		}
	})
}

// outOfRange reports whether num is a valid JSON number too large for a
// float64, which encoding/json writes verbatim and we refuse.
func outOfRange(num string) bool {
	if num == "" || !json.Valid([]byte(num)) {
		return false
	}
	_, err := strconv.ParseFloat(num, 64)
	return errors.Is(err, strconv.ErrRange)
}
