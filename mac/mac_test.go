package mac_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

const vecKey = "secretkeysecretkeysecretkey12345"

func tree(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// The vectors of spec SECURITY.md §3.
func TestSecuritySpecVectors(t *testing.T) {
	is := is.New(t)
	k, err := mac.NewKey("HS256", []byte(vecKey))
	is.NoErr(err)

	reqTree := tree(t, `{"f":"example.calc:1.0:add","p":{"b":2,"a":"s","c":[true,null,1.5],"d":{}},"rid":"C1","sec":"(ignored)"}`)
	base, err := mac.AppendBase(nil, reqTree)
	is.NoErr(err)
	is.Equal(string(base), "f:example.calc:1.0:add;p:a:s;b:2;c:0:true;2:1.5;;d:;;rid:C1;")
	sum, err := k.SignTree(nil, reqTree)
	is.NoErr(err)
	is.Equal(b64(sum), "KvOZlI7hltUaoHD8O8T6f4Rx9L55GV51ORDpi6yg9Kg=")

	// The same request as a pipeline.Request, the way the invoker signs it.
	req := &pipeline.Request{F: "example.calc:1.0:add", Rid: "C1", Sec: "ignored",
		P: map[string]any{"b": 2, "a": "s", "c": []any{true, nil, 1.5}, "d": map[string]any{}}}
	sum2, err := k.SignRequest(nil, req)
	is.NoErr(err)
	is.Equal(b64(sum2), "KvOZlI7hltUaoHD8O8T6f4Rx9L55GV51ORDpi6yg9Kg=")

	rsp := &pipeline.Response{R: map[string]any{"sum": 3.0}, Rid: "C1"}
	sum, err = k.SignResponse(nil, rsp)
	is.NoErr(err)
	is.Equal(b64(sum), "E+1aEF/DUGGfNDACGIYKJ15/QDDXW8TME1mebeh3vvU=")
	base, _ = mac.AppendBase(nil, tree(t, `{"r":{"sum":3},"rid":"C1"}`))
	is.Equal(string(base), "r:sum:3;;rid:C1;")

	ersp := &pipeline.Response{E: "InvalidRequest", EDesc: "bad", Rid: "C1"}
	sum, err = k.SignResponse(nil, ersp)
	is.NoErr(err)
	is.Equal(b64(sum), "xhwfqaq7+Op1RmRe9fOHLDAdCj2oG1K8N7vc8ZYN4y8=")
}

// The reference implementation's own vectors (REFERENCE-JS.md §4.3).
func TestReferenceVectors(t *testing.T) {
	is := is.New(t)
	m := map[string]any{"rid": "C1234", "f": "some.iface:1.2", "r": map[string]any{"test": "alpha"},
		"p": map[string]any{"b": false, "a": "alpha", "n": 1.34, "o": map[string]any{"b": true, "a": "beta"}, "d": []byte("111"), "def": nil}}
	base, err := mac.AppendBase(nil, m)
	is.NoErr(err)
	is.Equal(string(base), "f:some.iface:1.2;p:a:alpha;b:false;d:111;n:1.34;o:a:beta;b:true;;;r:test:alpha;;rid:C1234;")

	k, _ := mac.NewKey("HS256", []byte("MySecretKeyHere"))
	sum, err := k.SignRequest(nil, &pipeline.Request{F: "some.iface:1.2", P: map[string]any{}})
	is.NoErr(err)
	is.Equal(b64(sum), "OPs8M8/m5kGIuQQQS/e5TNqE4GHUCOJzgKpMGzfm8LM=")

	arr := make([]any, 11)
	for i := range arr {
		arr[i] = float64(i + 1)
	}
	base, _ = mac.AppendBase(nil, map[string]any{"arr": arr})
	is.Equal(string(base), "arr:0:1;1:2;10:11;2:3;3:4;4:5;5:6;6:7;7:8;8:9;9:10;;")
}

// pointOneTwo is 0.1+0.2 in float64 arithmetic (a constant expression
// would be exact).
func pointOneTwo() float64 { a, b := 0.1, 0.2; return a + b }

func TestAppendNumberLikeJavaScript(t *testing.T) {
	is := is.New(t)
	for f, want := range map[float64]string{
		2: "2", 1.5: "1.5", 100: "100", 1e21: "1e+21", pointOneTwo(): "0.30000000000000004",
		math.Copysign(0, -1): "0", 1e-7: "1e-7", 1.5e-7: "1.5e-7", 1e-6: "0.000001",
		1.2345678901234568e20: "123456789012345680000", 5e-324: "5e-324", -2.5: "-2.5",
		math.MaxFloat64: "1.7976931348623157e+308", 123e-20: "1.23e-18", -1e21: "-1e+21",
	} {
		got, err := mac.AppendNumber(nil, f)
		is.NoErr(err)
		is.Equal(string(got), want) // JS rendering
	}
	_, err := mac.AppendNumber(nil, math.NaN())
	is.True(err != nil)
	_, err = mac.AppendNumber(nil, math.Inf(1))
	is.True(err != nil)
}

// Keys sort by UTF-16 code units: a supplementary character (surrogate
// pair, 0xD83D…) sorts before U+FF01, unlike byte order.
func TestKeyOrderUTF16(t *testing.T) {
	is := is.New(t)
	base, err := mac.AppendBase(nil, map[string]any{"\uff01": "a", "\U0001F600": "b", "z": "c", "é": "d"})
	is.NoErr(err)
	is.Equal(string(base), "z:c;é:d;\U0001F600:b;\uff01:a;")
}

// Go integer types and nested Go values render as the peer decodes them;
// nulls are omitted at every depth; a nested "sec" is kept.
func TestGoValues(t *testing.T) {
	is := is.New(t)
	type item struct {
		N int    `json:"n"`
		S string `json:"s,omitempty"`
	}
	m := map[string]any{"f": "a.b:1.0:f", "p": map[string]any{
		"i": 7, "u": uint8(3), "big": int64(1 << 60), "st": item{N: 1}, "sl": []string{"x", "y"},
		"nil": nil, "np": (*item)(nil), "sec": "nested", "m": map[string]any{"x": nil},
	}, "sec": "top"}
	base, err := mac.AppendBase(nil, m)
	is.NoErr(err)
	is.Equal(string(base), "f:a.b:1.0:f;p:big:1152921504606847000;i:7;m:;sec:nested;sl:0:x;1:y;;st:n:1;;u:3;;")
}

func TestKeysAndAlgorithms(t *testing.T) {
	is := is.New(t)
	for _, a := range []string{"MD5", "SHA224", "SHA256", "SHA384", "SHA512"} {
		is.True(mac.IsLegacy(a))
		is.True(!mac.IsFTN8(a))
	}
	for _, a := range []string{"HMD5", "HS256", "HS384", "HS512"} {
		is.True(mac.IsFTN8(a))
	}
	_, err := mac.NewKey("KMAC128", []byte("k"))
	is.Equal(pipeline.NameOf(err), pipeline.InvokerError)
	_, err = mac.NewKey("hs256", []byte("k"))
	is.True(err != nil) // case-sensitive
	_, err = mac.NewKey("HS256", nil)
	is.True(err != nil)

	key, err := mac.DecodeKey("c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU=")
	is.NoErr(err)
	is.Equal(string(key), vecKey)
	key, err = mac.DecodeKey("c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU") // no padding
	is.NoErr(err)
	is.Equal(string(key), vecKey)
	for _, bad := range []string{"111222333444555666777888999", "not base64!", "", "c2Vj\ncmV0", "c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU==="} {
		_, err := mac.DecodeKey(bad)
		is.True(err != nil) // strict decoding
		if bad != "" {
			is.True(!strings.Contains(err.Error(), bad)) // the key is not repeated
		}
	}
}

func TestEqualConstantTimeForms(t *testing.T) {
	is := is.New(t)
	k, _ := mac.NewKey("HS256", []byte(vecKey))
	sum, _ := k.SignRequest(nil, &pipeline.Request{F: "a.b:1.0:f", P: map[string]any{}})
	padded := b64(sum)
	is.True(mac.Equal(sum, padded))
	is.True(mac.Equal(sum, strings.TrimRight(padded, "=")))
	is.True(!mac.Equal(sum, padded[:len(padded)-4]+"AAA="))
	is.True(!mac.Equal(sum, "!!!"))
	is.True(!mac.Equal(sum, ""))
	is.True(!mac.Equal(sum, strings.Repeat("A", 200)))
	is.Equal(string(mac.AppendBase64(nil, sum)), padded)
}

func TestKeyNeverShowsSecret(t *testing.T) {
	is := is.New(t)
	k, _ := mac.NewKey("HS512", []byte("topsecretvalue"))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logs.String()} {
		is.True(!strings.Contains(s, "topsecretvalue"))
		is.True(strings.Contains(s, "HS512"))
	}
}

// Signing allocates nothing for a small message once warm.
func TestSignRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items); make test also runs this package without -race")
	}
	k, _ := mac.NewKey("HS256", []byte(vecKey))
	req := &pipeline.Request{F: "example.calc:1.0:add", Rid: "C1", ForceRsp: true, P: map[string]any{"a": 1.0, "b": "x"}}
	var buf [64]byte
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := k.SignRequest(buf[:0], req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("SignRequest allocates %v times per call", allocs)
	}
}

func BenchmarkSignVerify(b *testing.B) {
	k, _ := mac.NewKey("HS256", []byte(vecKey))
	req := &pipeline.Request{F: "example.calc:1.0:add", Rid: "C1", ForceRsp: true, P: map[string]any{"a": 1.0, "b": "x"}}
	rsp := &pipeline.Response{R: map[string]any{"sum": 3.0}, Rid: "C1"}
	rs, _ := k.SignResponse(nil, rsp)
	sig := b64(rs)
	var buf [64]byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := k.SignRequest(buf[:0], req); err != nil {
			b.Fatal(err)
		}
		sum, _ := k.SignResponse(buf[:0], rsp)
		if !mac.Equal(sum, sig) {
			b.Fatal("mismatch")
		}
	}
}

// Values the codec changes on the wire are signed as sent: float32 (sent in
// its shortest 32-bit form) and invalid UTF-8 (each bad byte sent as
// U+FFFD).
func TestBaseMatchesWhatIsSent(t *testing.T) {
	is := is.New(t)
	for _, v := range []any{float32(0.1), float32(3.4e38), "caf\xe9", "a\xff\xfeb"} {
		req := &pipeline.Request{F: "a.b:1.0:f", P: map[string]any{"x": v, "bad\xffkey": 1}}
		wire, err := codec.JSON.AppendRequest(nil, req)
		is.NoErr(err)
		var tree any
		is.NoErr(codec.JSON.DecodeValue(wire, &tree))
		sent, _ := mac.AppendBase(nil, tree.(map[string]any))
		k, _ := mac.NewKey("HS256", []byte(vecKey))
		s1, err := k.SignRequest(nil, req)
		is.NoErr(err)
		s2, _ := k.SignTree(nil, tree.(map[string]any))
		is.Equal(b64(s1), b64(s2)) // signer and receiver agree
		is.True(len(sent) > 0)
	}
}
