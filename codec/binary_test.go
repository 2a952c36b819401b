package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/matryer/is"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

var allCodecs = []pipeline.Codec{codec.JSON, codec.MsgPack, codec.CBOR}

var binCodecs = []pipeline.Codec{codec.MsgPack, codec.CBOR}

// libEncode encodes v with the codec's reference library (not our
// encoder) and adds the marker: test input from an independent writer.
func libEncode(t testing.TB, c pipeline.Codec, v any) []byte {
	t.Helper()
	var b []byte
	var err error
	switch c {
	case codec.MsgPack:
		b, err = msgpack.Marshal(v)
	case codec.CBOR:
		b, err = cbor.Marshal(v)
	case codec.JSON:
		b, err = json.Marshal(v)
		return b
	}
	if err != nil {
		t.Fatalf("%s library: %v", c.Name(), err)
	}
	return append([]byte(c.Name()), b...)
}

// libDecode decodes one of our messages with the codec's library into a
// generic value, checking that the library reads all of it.
func libDecode(t testing.TB, c pipeline.Codec, b []byte) any {
	t.Helper()
	if c == codec.JSON {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", b, err)
		}
		return v
	}
	if !bytes.HasPrefix(b, []byte(c.Name())) {
		t.Fatalf("%s message without its marker: % x", c.Name(), b)
	}
	b = b[4:]
	var v any
	switch c {
	case codec.MsgPack:
		d := msgpack.NewDecoder(bytes.NewReader(b))
		if err := d.Decode(&v); err != nil {
			t.Fatalf("msgpack library rejects % x: %v", b, err)
		}
		if _, err := d.PeekCode(); err == nil {
			t.Fatalf("trailing data in % x", b)
		}
	case codec.CBOR:
		dm, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
		rest, err := dm.UnmarshalFirst(b, &v)
		if err != nil || len(rest) != 0 {
			t.Fatalf("cbor library rejects % x: %v (rest %d)", b, err, len(rest))
		}
	}
	return v
}

func TestCodecLookup(t *testing.T) {
	is := is.New(t)
	is.Equal(codec.MsgPack.Name(), "MPCK")
	is.Equal(codec.MsgPack.ContentType(), "application/futoin+msgpack")
	is.Equal(codec.CBOR.Name(), "CBOR")
	is.Equal(codec.CBOR.ContentType(), "application/futoin+cbor")
	for _, c := range allCodecs {
		got, ok := codec.ByName(c.Name())
		is.True(ok)
		is.Equal(got, c)
		got, vnd, ok := codec.ByContentType(c.ContentType())
		is.True(ok && !vnd)
		is.Equal(got, c)
		got, vnd, ok = codec.ByContentType(strings.ToUpper(codec.VndContentType(c)) + "; charset=utf-8")
		is.True(ok && vnd)
		is.Equal(got, c)
	}
	is.Equal(codec.VndContentType(codec.MsgPack), codec.ContentTypeVndMsgPack)
	is.Equal(codec.VndContentType(codec.CBOR), codec.ContentTypeVndCBOR)
	for _, name := range []string{"", "json", "MSGPACK", "mpck", "BSON"} {
		_, ok := codec.ByName(name)
		is.True(!ok) // unknown coder name
	}
	for _, ct := range []string{"", "application/json", "application/msgpack", "application/futoin+xml", "text/plain", "application/futoin+"} {
		_, _, ok := codec.ByContentType(ct)
		is.True(!ok) // not a FutoIn codec type
	}
	for in, want := range map[string]pipeline.Codec{
		"MPCK\x80": codec.MsgPack, "CBOR\xa0": codec.CBOR, "{}": codec.JSON, "MPC": codec.JSON, "cbor": codec.JSON,
	} {
		c, err := codec.Detect([]byte(in))
		is.NoErr(err)
		is.Equal(c, want)
	}
}

// requestCases are messages every codec carries; their generic decoding
// is the same in all three.
var requestCases = []pipeline.Request{
	{F: "a:1.0:f", P: map[string]any{}},
	{F: "a:1.0:f"},
	{F: "example.calc:1.2:add", P: map[string]any{"a": 1, "b": 2.5}, Rid: "C17", ForceRsp: true, Sec: "user:pa:ss",
		Obf: map[string]any{"lid": "1", "gid": "g", "slvl": "Info"}},
	{F: "a:1.0:f", P: map[string]any{
		"s": "héllo ✓ 日本語 🎉", "ctrl": "\x00\x1f\"\\", "long": strings.Repeat("x", 300), "empty": "",
		"m":   map[string]any{"x": []any{1, "two", 3.5, nil, true, false, map[string]any{"deep": []any{}}}},
		"nil": nil,
	}},
	{F: "a:1.0:f", P: map[string]any{
		"big": 1e21, "small": 1e-7, "neg": -0.5, "zero": 0.0, "int": 42, "negint": -7, "i8": int8(-100),
		"i16": int16(-3000), "u16": uint16(60000), "i32": int32(math.MinInt32), "u32": uint32(math.MaxUint32),
		"2p53": int64(1 << 53), "f32": float32(0.1), "maxf": math.MaxFloat64, "tiny": 5e-324,
		"num": json.Number("12.5e3"), "numi": json.Number("-12"), "list": make([]any, 40),
	}},
}

func TestRequestRoundTripAllCodecs(t *testing.T) {
	for _, c := range allCodecs {
		for _, req := range requestCases {
			t.Run(c.Name()+"/"+req.F, func(t *testing.T) {
				is := is.New(t)
				b, err := c.AppendRequest([]byte("keep"), &req)
				is.NoErr(err)
				is.Equal(string(b[:4]), "keep") // appends
				b = b[4:]
				libDecode(t, c, b) // the library reads our output

				var got pipeline.Request
				is.NoErr(c.DecodeRequest(b, &got))
				is.Equal(got.F, req.F)
				is.Equal(got.Rid, req.Rid)
				is.Equal(got.Sec, req.Sec)
				is.Equal(got.ForceRsp, req.ForceRsp)
				want := map[string]any{}
				if req.P != nil {
					want = req.P
				}
				is.Equal(any(got.P), plain(t, want)) // the generic values JSON gives
				if req.Obf == nil {
					is.Equal(got.Obf, nil)
				} else {
					is.Equal(any(got.Obf), plain(t, req.Obf))
				}
			})
		}
	}
}

// TestGenericNumbers: integers decode to float64 in every codec while
// exact, and keep their value beyond 2^53 in the binary codecs.
func TestGenericNumbers(t *testing.T) {
	for _, c := range binCodecs {
		is := is.New(t)
		in := map[string]any{
			"u64": uint64(math.MaxUint64), "i64": int64(math.MinInt64), "big": int64(1<<53 + 1),
			"f": 1.5, "i": 3, "negzero": math.Copysign(0, -1), "nan": math.NaN(), "inf": math.Inf(-1),
		}
		b, err := c.AppendResponse(nil, &pipeline.Response{R: in})
		is.NoErr(err)
		var rsp pipeline.Response
		is.NoErr(c.DecodeResponse(b, &rsp))
		var v any
		is.NoErr(c.DecodeValue(rsp.RawR, &v))
		m := v.(map[string]any)
		is.Equal(m["u64"], uint64(math.MaxUint64))
		is.Equal(m["i64"], int64(math.MinInt64))
		is.Equal(m["big"], int64(1<<53+1))
		is.Equal(m["f"], 1.5)
		is.Equal(m["i"], 3.0)
		is.True(math.Signbit(m["negzero"].(float64))) // -0 stays a float
		is.True(math.IsNaN(m["nan"].(float64)))       // binary codecs carry NaN and infinities
		is.Equal(m["inf"], math.Inf(-1))
	}
}

func TestBinaryDataCarried(t *testing.T) {
	blob := []byte{0, 1, 2, 0xff, 'M', 'P', 'C', 'K'}
	big := bytes.Repeat([]byte{0xab}, 70000)
	for _, c := range binCodecs {
		t.Run(c.Name(), func(t *testing.T) {
			is := is.New(t)
			req := pipeline.Request{F: "a:1.0:f", P: map[string]any{"blob": blob, "empty": []byte{}, "big": big,
				"list": []any{[]byte("x")}, "m": map[string]any{"b": []byte{7}}}}
			b, err := c.AppendRequest(nil, &req)
			is.NoErr(err)
			var got pipeline.Request
			is.NoErr(c.DecodeRequest(b, &got))
			is.Equal(got.P["blob"], blob)
			is.Equal(got.P["empty"], []byte{})
			is.Equal(got.P["big"], big)
			is.Equal(got.P["list"], []any{[]byte("x")})
			is.Equal(got.P["m"], map[string]any{"b": []byte{7}})

			// The decoded bytes are a copy: reusing the frame leaves them.
			for i := range b {
				b[i] = 0
			}
			is.Equal(got.P["blob"], blob)

			out, err := c.AppendResponse(nil, &pipeline.Response{R: blob, Rid: "C1"})
			is.NoErr(err)
			var rsp pipeline.Response
			is.NoErr(c.DecodeResponse(out, &rsp))
			var v any
			is.NoErr(c.DecodeValue(rsp.RawR, &v))
			is.Equal(v, blob)
			var typed []byte
			is.NoErr(c.DecodeValue(rsp.RawR, &typed))
			is.Equal(typed, blob)
		})
	}
	t.Run("JSON refuses", func(t *testing.T) {
		is := is.New(t)
		_, err := codec.JSON.AppendRequest(nil, &pipeline.Request{F: "a:1.0:f", P: map[string]any{"blob": blob}})
		is.True(err != nil && strings.Contains(err.Error(), "binary")) // says why
		_, err = codec.JSON.AppendResponse(nil, &pipeline.Response{R: map[string]any{"b": blob}})
		is.True(err != nil && strings.Contains(err.Error(), "binary"))
	})
}

func TestBinaryResponseRoundTrip(t *testing.T) {
	results := []any{
		map[string]any{"sum": 3.0, "list": []any{1.0, "x", nil, true}},
		"text ✓", 3.0, -0.5, 1e21, true, false, nil, []any{}, map[string]any{},
	}
	for _, c := range binCodecs {
		for _, r := range results {
			is := is.New(t)
			b, err := c.AppendResponse(nil, &pipeline.Response{R: r, Rid: "C5", Sec: "sig"})
			is.NoErr(err)
			libDecode(t, c, b)
			var rsp pipeline.Response
			is.NoErr(c.DecodeResponse(b, &rsp))
			is.True(rsp.HasR)
			is.Equal(rsp.Rid, "C5")
			is.Equal(rsp.Sec, "sig")
			var v any
			is.NoErr(c.DecodeValue(rsp.RawR, &v))
			is.Equal(v, plain(t, r))

			b2, err := c.AppendResponse(nil, &rsp) // the raw result is copied as is
			is.NoErr(err)
			var again pipeline.Response
			is.NoErr(c.DecodeResponse(b2, &again))
			is.Equal(again.RawR, rsp.RawR)
		}
		for _, name := range pipeline.StandardNames {
			is := is.New(t)
			for _, desc := range []string{"", "something \"bad\" ✓"} {
				b, err := c.AppendResponse(nil, &pipeline.Response{E: name, EDesc: desc, Rid: "S3"})
				is.NoErr(err)
				m := libDecode(t, c, b).(map[string]any)
				_, hasR := m["r"]
				_, hasDesc := m["edesc"]
				is.True(!hasR)
				is.Equal(hasDesc, desc != "")
				var rsp pipeline.Response
				is.NoErr(c.DecodeResponse(b, &rsp))
				is.Equal(rsp.E, name)
				is.Equal(rsp.EDesc, desc)
				is.Equal(rsp.Rid, "S3")
			}
		}
	}
}

// jsonRejectable turns the JSON reject cases that are well-formed JSON
// into the same trees in another codec, so every envelope rule is checked
// in all three.
func jsonTrees(t *testing.T, ins []string) []any {
	var out []any
	for _, in := range ins {
		var v any
		if json.Unmarshal([]byte(in), &v) == nil {
			out = append(out, v)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d reject cases are valid JSON", len(out))
	}
	return out
}

var requestRejects = []string{
	`null`, `[]`, `"f"`, `1`,
	`{"f":"a:1.0:f","p":{},"x":1}`, `{"f":"a:1.0:f","p":{},"F":"b"}`, `{"F":"a:1.0:f","P":{}}`, `{"f":"a:1.0:f","p":{},"r":1}`,
	`{"p":{}}`, `{"f":null,"p":{}}`, `{"f":"a:1.0:f"}`, `{"f":"a:1.0:f","p":null}`,
	`{"f":1,"p":{}}`, `{"f":"a","p":[]}`, `{"f":"a","p":"x"}`, `{"f":"a","p":{},"rid":1}`,
	`{"f":"a","p":{},"forcersp":"yes"}`, `{"f":"a","p":{},"forcersp":1}`, `{"f":"a","p":{},"obf":[]}`, `{"f":"a","p":{},"obf":"u"}`,
}

var responseRejects = []string{
	`null`, `[]`, `[{"r":1}]`, `1`, `"r"`, `true`,
	`{}`, `{"rid":"C1"}`, `{"edesc":"x"}`, `{"e":null}`, `{"e":""}`, `{"R":1}`, `{"E":"Timeout"}`,
	`{"f":"a:1.0:f","p":{},"rid":"S1"}`, `{"e":1}`, `{"r":1,"rid":7}`, `{"e":"X","edesc":true}`,
	`{"r":{"ok":true},"e":"Unauthorized"}`,
}

func TestBinaryRejectsWhatJSONRejects(t *testing.T) {
	for _, c := range allCodecs {
		for _, tree := range jsonTrees(t, requestRejects) {
			is := is.New(t)
			b := libEncode(t, c, tree)
			r := pipeline.Request{F: "stale"}
			is.True(c.DecodeRequest(b, &r) != nil) // refused like JSON
			is.Equal(r.F, "")                      // and nothing half-decoded
		}
		for _, tree := range jsonTrees(t, responseRejects) {
			is := is.New(t)
			b := libEncode(t, c, tree)
			rsp := pipeline.Response{Rid: "stale", HasR: true}
			is.True(c.DecodeResponse(b, &rsp) != nil)
			is.Equal(rsp.Rid, "")
		}
	}
}

func TestBinaryAcceptsWhatJSONAccepts(t *testing.T) {
	for _, c := range allCodecs {
		is := is.New(t)
		var tree any
		is.NoErr(json.Unmarshal([]byte(`{"p":{"a":[1,{"b":null}]},"f":"x.y:1.0:g","forcersp":false,"sec":{"o":1},"rid":null}`), &tree))
		var r pipeline.Request
		is.NoErr(c.DecodeRequest(libEncode(t, c, tree), &r))
		is.Equal(r.F, "x.y:1.0:g")
		is.Equal(any(r.P), any(map[string]any{"a": []any{1.0, map[string]any{"b": nil}}}))
		is.Equal(r.Sec, "") // a non-string sec counts as none
		is.Equal(r.Rid, "")

		var rsp pipeline.Response
		is.NoErr(json.Unmarshal([]byte(`{"r":1,"rid":null,"sec":{"x":1},"extra":{"ignored":[1]}}`), &tree))
		is.NoErr(c.DecodeResponse(libEncode(t, c, tree), &rsp))
		is.True(rsp.HasR)
		is.Equal(rsp.Sec, "")
	}
}

// oomFrames declare far more elements than they carry (DESIGN.md §6).
var oomFrames = map[string][]byte{
	"msgpack array32":   {0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0},
	"msgpack map32":     {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0},
	"msgpack str32":     {0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},
	"msgpack bin32":     {0xc6, 0xff, 0xff, 0xff, 0xff, 0},
	"msgpack array16":   {0xdc, 0xff, 0xff, 0xc0},
	"msgpack nested":    {0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0},
	"cbor array64":      {0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf6},
	"cbor map32":        {0xba, 0x7f, 0xff, 0xff, 0xff, 0xf6},
	"cbor bytes64":      {0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0},
	"cbor indef bytes":  {0x5f, 0x5a, 0x7f, 0xff, 0xff, 0xff, 0, 0xff},
	"cbor indef unterm": {0x9f, 0xf6, 0xf6},
}

func TestHugeDeclaredLengthsRefused(t *testing.T) {
	for name, frame := range oomFrames {
		for _, c := range binCodecs {
			t.Run(name+"/"+c.Name(), func(t *testing.T) {
				is := is.New(t)
				msg := append([]byte(c.Name()), frame...)
				var r pipeline.Request
				is.True(c.DecodeRequest(msg, &r) != nil)
				var rsp pipeline.Response
				is.True(c.DecodeResponse(msg, &rsp) != nil)
				var v any
				is.True(c.DecodeValue(frame, &v) != nil)
				var typed []any
				is.True(c.DecodeValue(frame, &typed) != nil) // the library path is guarded too
				var m map[string]any
				is.True(c.DecodeValue(frame, &m) != nil)
				// The same frame as the result of a valid envelope.
				wrapped := append([]byte(c.Name()), wrapResult(c, frame)...)
				is.True(c.DecodeResponse(wrapped, &rsp) != nil)
			})
		}
	}
}

// wrapResult builds {"r": <frame>} by hand.
func wrapResult(c pipeline.Codec, frame []byte) []byte {
	if c == codec.MsgPack {
		return append([]byte{0x81, 0xa1, 'r'}, frame...)
	}
	return append([]byte{0xa1, 0x61, 'r'}, frame...)
}

func TestBinaryMalformedRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    pipeline.Codec
		msg  string
	}{
		{"no marker", codec.MsgPack, "\x81\xa1r\x01"},
		{"wrong marker", codec.MsgPack, "CBOR\xa1ar\x01"},
		{"empty", codec.MsgPack, "MPCK"},
		{"truncated", codec.MsgPack, "MPCK\x82\xa1r\x01"},
		{"trailing", codec.MsgPack, "MPCK\x81\xa1r\x01\x01"},
		{"ext type", codec.MsgPack, "MPCK\x81\xa1r\xd4\x01\x01"},
		{"timestamp ext", codec.MsgPack, "MPCK\x81\xa1r\xd6\xff\x00\x00\x00\x01"},
		{"0xc1", codec.MsgPack, "MPCK\x81\xa1r\xc1"},
		{"int key", codec.MsgPack, "MPCK\x81\x01\x01"},
		{"int key inside", codec.MsgPack, "MPCK\x81\xa1r\x81\x01\x01"},
		{"bin key", codec.MsgPack, "MPCK\x81\xc4\x01r\x01"},
		{"no marker", codec.CBOR, "\xa1ar\x01"},
		{"empty", codec.CBOR, "CBOR"},
		{"truncated", codec.CBOR, "CBOR\xa2ar\x01"},
		{"trailing", codec.CBOR, "CBOR\xa1ar\x01\x01"},
		{"tag", codec.CBOR, "CBOR\xa1ar\xc1\x01"},
		{"bignum", codec.CBOR, "CBOR\xa1ar\xc2\x41\x01"},
		{"int key", codec.CBOR, "CBOR\xa1\x01\x01"},
		{"bytes key", codec.CBOR, "CBOR\xa1\x41r\x01"},
		{"invalid utf-8", codec.CBOR, "CBOR\xa1ar\x61\xff"},
		{"stray break", codec.CBOR, "CBOR\xa1ar\xff"},
		{"reserved head", codec.CBOR, "CBOR\xa1ar\x1c"},
		{"simple value", codec.CBOR, "CBOR\xa1ar\xf0"},
		{"indef int", codec.CBOR, "CBOR\xa1ar\x1f"},
		{"mixed chunks", codec.CBOR, "CBOR\xa1ar\x5f\x61a\xff"},
	} {
		t.Run(tc.c.Name()+"/"+tc.name, func(t *testing.T) {
			is := is.New(t)
			var rsp pipeline.Response
			is.True(tc.c.DecodeResponse([]byte(tc.msg), &rsp) != nil)
		})
	}
}

func TestBinaryAcceptsOtherWriters(t *testing.T) {
	is := is.New(t)
	// CBOR from writers that use indefinite lengths and short floats.
	for _, msg := range []string{
		"CBOR\xbf\x61r\x9f\x01\xf9\x3e\x00\xfa\x3f\xc0\x00\x00\x7f\x61a\x62bc\xff\x5f\x41\x01\x41\x02\xff\xff\xff",
	} {
		var rsp pipeline.Response
		is.NoErr(codec.CBOR.DecodeResponse([]byte(msg), &rsp))
		var v any
		is.NoErr(codec.CBOR.DecodeValue(rsp.RawR, &v))
		is.Equal(v, []any{1.0, 1.5, 1.5, "abc", []byte{1, 2}})
	}
	// MessagePack with every integer and string width.
	for in, want := range map[string]any{
		"\xcc\xff": 255.0, "\xcd\xff\xff": 65535.0, "\xce\xff\xff\xff\xff": 4294967295.0, "\xd0\x80": -128.0,
		"\xd1\x80\x00": -32768.0, "\xd2\x80\x00\x00\x00": -2147483648.0, "\xd3\xff\xff\xff\xff\xff\xff\xff\xff": -1.0,
		"\xca\x3f\xc0\x00\x00": 1.5, "\xd9\x01x": "x", "\xda\x00\x01x": "x", "\xdb\x00\x00\x00\x01x": "x",
		"\xdc\x00\x01\xc3": []any{true}, "\xde\x00\x01\xa1k\xc2": map[string]any{"k": false}, "\xff": -1.0,
	} {
		var v any
		is.NoErr(codec.MsgPack.DecodeValue([]byte(in), &v))
		is.Equal(v, want)
	}
}

func TestBinaryDepthLimit(t *testing.T) {
	for _, c := range binCodecs {
		is := is.New(t)
		open := byte(0x91)
		if c == codec.CBOR {
			open = 0x81
		}
		deep := append(bytes.Repeat([]byte{open}, 10001), 0x01)
		var v any
		err := c.DecodeValue(deep, &v)
		is.True(err != nil && strings.Contains(err.Error(), "deep"))
		ok := append(bytes.Repeat([]byte{open}, 100), 0x01)
		is.NoErr(c.DecodeValue(ok, &v))
	}
}

func TestBinaryDecodeValueTyped(t *testing.T) {
	type item struct {
		Sum  int      `json:"sum"`
		Tags []string `json:"tags"`
		Blob []byte   `json:"blob"`
		Skip string   `json:"-"`
	}
	for _, c := range binCodecs {
		is := is.New(t)
		b, err := c.AppendResponse(nil, &pipeline.Response{R: map[string]any{"sum": 3, "tags": []any{"a"}, "blob": []byte{9}, "Skip": "x"}})
		is.NoErr(err)
		var rsp pipeline.Response
		is.NoErr(c.DecodeResponse(b, &rsp))
		var out item
		is.NoErr(c.DecodeValue(rsp.RawR, &out)) // json tags apply
		is.Equal(out, item{Sum: 3, Tags: []string{"a"}, Blob: []byte{9}})
		var s string
		is.True(c.DecodeValue(rsp.RawR, &s) != nil) // wrong shape
	}
}

// TestEncodeFallback: values outside the generic types are encoded as
// encoding/json sees them, the same in every codec.
func TestEncodeFallback(t *testing.T) {
	type point struct {
		X int    `json:"x"`
		L string `json:"label,omitempty"`
	}
	p := map[string]any{"pt": point{X: 1}, "tags": map[string]string{"k": "v"}, "ints": []int{1, 2}}
	for _, c := range allCodecs {
		is := is.New(t)
		b, err := c.AppendRequest(nil, &pipeline.Request{F: "f", P: p})
		is.NoErr(err)
		var r pipeline.Request
		is.NoErr(c.DecodeRequest(b, &r))
		is.Equal(any(r.P), plain(t, p))
		_, err = c.AppendRequest(nil, &pipeline.Request{F: "f", P: map[string]any{"ch": make(chan int)}})
		is.True(err != nil) // not encodable
		_, err = c.AppendRequest(nil, &pipeline.Request{F: "f", P: map[string]any{"n": json.Number("x")}})
		is.True(err != nil)
	}
}

func TestDecodeIntoStaleValues(t *testing.T) {
	is := is.New(t)
	for _, c := range binCodecs {
		var rsp pipeline.Response
		err := c.DecodeResponse([]byte("nope"), &rsp)
		is.True(err != nil)
		is.True(!errors.Is(err, codec.ErrUnsupported))
	}
}

// nestedClaims builds a frame of depth containers, each declaring (with a
// 32-bit length) as many elements as bytes remain after its header, the
// innermost left short: every level's claim passes the remaining-bytes
// check on its own.
func nestedClaims(c pipeline.Codec, depth int, isMap bool) []byte {
	var head []byte
	switch {
	case c == codec.MsgPack && isMap:
		head = []byte{0xdf, 0, 0, 0, 0, 0xa1, 'k'}
	case c == codec.MsgPack:
		head = []byte{0xdd, 0, 0, 0, 0}
	case isMap:
		head = []byte{0xba, 0, 0, 0, 0, 0x61, 'k'}
	default:
		head = []byte{0x9a, 0, 0, 0, 0}
	}
	total := depth * len(head)
	b := make([]byte, 0, total)
	for k := 0; k < depth; k++ {
		rest := total - len(b) - len(head)
		if isMap {
			rest /= 2
		}
		h := append([]byte(nil), head...)
		h[1], h[2], h[3], h[4] = byte(rest>>24), byte(rest>>16), byte(rest>>8), byte(rest)
		b = append(b, h...)
	}
	return b
}

// TestNestedClaimsBoundedMemory: what a decode reserves up front is
// bounded per container, so nested length claims cost memory in
// proportion to the message, not to depth × size (which for these
// 10-14 KB frames would be some 200 MB per decode).
func TestNestedClaimsBoundedMemory(t *testing.T) {
	for _, c := range binCodecs {
		for _, isMap := range []bool{false, true} {
			is := is.New(t)
			frame := nestedClaims(c, 2000, isMap)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var v any
			err := c.DecodeValue(frame, &v)
			var r pipeline.Request
			reqErr := c.DecodeRequest(append([]byte(c.Name()), wrapResult(c, frame)...), &r)
			runtime.ReadMemStats(&after)
			is.True(err != nil && reqErr != nil) // truncated
			used := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s map=%v: %d bytes frame, %d bytes allocated", c.Name(), isMap, len(frame), used)
			is.True(used < 16<<20) // far below depth × size
		}
	}
}
