package spec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

type level string // a named string kind, as Go callers write

// checkStd checks v against a standard type through a one-param function.
func stdIface(t *testing.T) *spec.Iface {
	t.Helper()
	i, err := loadJSON("std.face:1.0", spec.Invoker, `{"iface":"std.face","version":"1.0","ftn3rev":"1.9","funcs":{
		"any":{"params":{"v":"any"}}, "string":{"params":{"v":"string"}}, "number":{"params":{"v":"number"}},
		"integer":{"params":{"v":"integer"}}, "boolean":{"params":{"v":"boolean"}}, "array":{"params":{"v":"array"}},
		"map":{"params":{"v":"map"}}, "data":{"params":{"v":"data"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestStandardTypes: REFERENCE-JS §9.4 item 60, with the Go kinds our
// codecs and callers produce.
func TestStandardTypes(t *testing.T) {
	i := stdIface(t)
	tests := map[string]struct{ ok, fail []any }{
		"any":    {ok: []any{true, false, "yes", 1.0, 1.1, map[string]any{}, []any{}, nil}},
		"string": {ok: []any{"yes", "", level("info")}, fail: []any{true, 1.0, 1.1, map[string]any{}, []any{}, nil, json.Number("1"), []byte("x")}},
		"number": {
			ok:   []any{1.0, 1.1, -1.0, 100.0, 3, int64(1 << 60), uint64(7), float32(2.5), json.Number("1e2"), int8(-3)},
			fail: []any{true, "yes", "1", map[string]any{}, []any{}, nil, math.NaN(), math.Inf(1)},
		},
		"integer": {
			ok:   []any{1.0, 2.0, -1.0, 1e2, int64(math.MaxInt32), int64(math.MinInt32), uint16(5), json.Number("4"), json.Number("1.0")},
			fail: []any{true, "yes", 1.1, map[string]any{}, []any{}, nil, int64(math.MaxInt32) + 1, uint64(1 << 40), json.Number("1.5"), 3e9},
		},
		"boolean": {ok: []any{true, false}, fail: []any{"yes", 1.0, 1.1, map[string]any{}, []any{}, nil}},
		"array":   {ok: []any{[]any{}, []string{"a"}, [2]int{1, 2}, []any(nil)}, fail: []any{true, "yes", 1.0, map[string]any{}, nil, []byte("x"), []string(nil)}},
		"map":     {ok: []any{map[string]any{}, map[string]int{"a": 1}, map[string]any(nil)}, fail: []any{true, "yes", 1.0, []any{}, nil, map[int]any{}, map[string]int(nil)}},
		"data":    {ok: []any{[]byte{}, []byte("abc")}, fail: []any{"abc", []any{}, nil, []int32{1}, 1.0}},
	}
	for typ, c := range tests {
		f, err := i.Func(typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.ok {
			if err := f.CheckParams(map[string]any{"v": v}); err != nil {
				t.Errorf("%s should accept %#v: %v", typ, v, err)
			}
		}
		for _, v := range c.fail {
			if err := f.CheckParams(map[string]any{"v": v}); err == nil {
				t.Errorf("%s should refuse %#v", typ, v)
			}
		}
	}
}

// TestCustomTypes: REFERENCE-JS §9.4 item 61 (and 62's separate
// constraints per variant member), on types.face from testdata.
func TestCustomTypes(t *testing.T) {
	i := testdata(t, "types.face:1.0")
	m := func(kv ...any) map[string]any {
		r := map[string]any{}
		for k := 0; k < len(kv); k += 2 {
			r[kv[k].(string)] = kv[k+1]
		}
		return r
	}
	tests := map[string]struct{ ok, fail []any }{
		"Int":          {ok: []any{-5.0, 1.0, 5.0}, fail: []any{1.1}},
		"IntMinMax":    {ok: []any{-3.0, 1.0, 3.0}, fail: []any{-4.0, 1.1, 4.0}},
		"Number":       {ok: []any{-5.0, 1.1, 5.0}, fail: []any{"string"}},
		"NumberMinMax": {ok: []any{-3.1, 0.5, 3.1}, fail: []any{-3.2, "string", 3.2}},
		"String":       {ok: []any{"Some", "string"}, fail: []any{1.0, false, nil}},
		"StringRegex":  {ok: []any{"strin"}, fail: []any{"Some", "Strin", 1.0, false, nil}},
		"StringMinMax": {ok: []any{"a", "abc", "жёл"}, fail: []any{"", "abcd", "жёлт"}},
		"ArrayMinMax": {
			ok:   []any{[]any{1.0, 1.0, 1.0}, []any{-3.0, 0.0, 3.0}},
			fail: []any{[]any{}, []any{1.0, 1.0, 1.0, 1.0}, []any{1.0, -5.0, 1.0}, []any{1.0, "s", true}, 1.0, false, nil},
		},
		"Map": {
			ok:   []any{m("int", 1.0), m("int", 3.0, "string", "abcde"), m("int", 1.0, "string", nil), m("int", 1.0, "extra", true)},
			fail: []any{m("int", 5.0, "string", "abcde"), m("string", "abcde"), m("int", 3.0, "string", "abcdE"), m("int", nil)},
		},
		"MapVariant":       {ok: []any{m("v", 2.0), m("v", "abcde")}, fail: []any{m("v", 9.0), m("v", true), m()}},
		"MapElemType":      {ok: []any{m("int", 1.0), m("int", 3.0)}, fail: []any{m("int", 5.0, "string", "abcde"), m("int", 4.0), m("string", "abcde")}},
		"DerivedIntMinMax": {ok: []any{-2.0, 1.0, 3.0}, fail: []any{-4.0, -3.0, 1.1, 4.0}},
		"Set": {
			ok:   []any{[]any{}, []any{"one"}, []any{20.0, "one"}, []any{"one", "two", "three", 10.0, 20.0}, []string{"two"}},
			fail: []any{[]any{1.0}, []any{"one", "two", "three", 10.0, 20.0, 30.0}, false, nil, 1.0, []any{"one", "one"}, []any{"10"}},
		},
		"Enum":           {ok: []any{"one", 20.0, "three", int64(10)}, fail: []any{[]any{"one"}, false, nil, 1.0, "10", 10.5}},
		"DerivedVariant": {ok: []any{2.0, 3.0, "abcde", false}, fail: []any{1.0, 4.0, "abcdE", "abc", nil, m(), []any{}}},
		"AnyType":        {ok: []any{1.0, "abc", nil, true, false, 1.23, []any{}, m()}},
		"MapAny":         {ok: []any{m("f", nil), m("f", false), m("f", 1.0)}, fail: []any{m()}},
		"Array":          {ok: []any{[]any{}, []any{1.0}, []any{1.0, 2.0, 3.0}}, fail: []any{[]any{1.0, 2.0, 3.0, 4.0}, nil, true}},
		"ArrayVariant":   {ok: []any{[]any{1.0, "a"}}, fail: []any{[]any{1.0, "a", 2.0}, []any{true}}},
		"Data":           {ok: []any{[]byte("ab"), []byte("abcd")}, fail: []any{[]byte("a"), []byte("abcde"), "abc"}},
		"Tree": {
			ok:   []any{m("name", "root"), m("name", "r", "kids", []any{m("name", "a", "kids", []any{m("name", "b")})})},
			fail: []any{m("name", "r", "kids", []any{m("name", 1.0)}), m("kids", []any{})},
		},
	}
	for name, c := range tests {
		ty := i.Type(name)
		if ty == nil {
			t.Fatalf("type %s not loaded", name)
		}
		for _, v := range c.ok {
			if !ty.Check(v) {
				t.Errorf("%s should accept %#v", name, v)
			}
		}
		for _, v := range c.fail {
			if ty.Check(v) {
				t.Errorf("%s should refuse %#v", name, v)
			}
		}
	}
}

func TestTypeDescription(t *testing.T) {
	is := is.New(t)
	i := testdata(t, "types.face:1.0")
	d := i.Type("DerivedIntMinMax")
	is.Equal(d.Kind, "integer")
	is.Equal(d.Base, []string{"IntMinMax"})
	is.Equal(*d.Min, -2.0) // own min wins
	is.Equal(*d.Max, 3.0)  // max from the base
	is.Equal(i.Type("Variant").Kind, "")
	mp := i.Type("Map")
	is.Equal(len(mp.Fields), 2)
	is.Equal(mp.Fields[1], spec.Field{Name: "string", Type: []string{"StringRegex"}, Optional: true})
	is.Equal(i.Type("Enum").Items, []any{"one", "two", "three", 10.0, 20.0})
	is.Equal(i.Type("StringRegex").Regex, "^[a-z]{5}$")
	is.True(i.Type("Nope") == nil)
}

// TestDiamondVariant: REFERENCE-JS §9.4 item 62: a variant of two regex
// types and one of two sets keep their own constraints.
func TestDiamondVariant(t *testing.T) {
	is := is.New(t)
	i, err := loadJSON("v.face:1.0", spec.Invoker, `{"iface":"v.face","version":"1.0","ftn3rev":"1.6","types":{
		"A":{"type":"string","regex":"^a+$"},"B":{"type":"string","regex":"^b+$"},"AB":["A","B"],
		"S1":{"type":"set","items":["x"]},"S2":{"type":"set","items":["y"]},"S":["S1","S2"]}}`)
	is.NoErr(err)
	ab := i.Type("AB")
	is.True(ab.Check("aaa"))
	is.True(ab.Check("bb"))
	is.True(!ab.Check("ab"))
	s := i.Type("S")
	is.True(s.Check([]any{"x"}))
	is.True(s.Check([]any{"y"}))
	is.True(!s.Check([]any{"x", "y"}))
}

// TestShortcutAliasChain: REFERENCE-JS §9.4 item 64.
func TestShortcutAliasChain(t *testing.T) {
	is := is.New(t)
	i, err := loadJSON("some.face:1.0", spec.Invoker, `{"iface":"some.face","version":"1.0","ftn3rev":"1.4",
		"types":{"MyNum":"integer","MyOtherNum":"MyNum","MyObj":{"type":"map","fields":{"num":"MyOtherNum"}}},
		"funcs":{"test":{"params":{"myobj":"MyObj"},"result":{"resobj":"MyObj"}}}}`)
	is.NoErr(err)
	f, _ := i.Func("test")
	is.NoErr(f.CheckParams(map[string]any{"myobj": map[string]any{"num": 1.0}}))
	is.True(f.CheckParams(map[string]any{"myobj": map[string]any{"num": "1"}}) != nil)
	is.NoErr(f.CheckResult(map[string]any{"resobj": map[string]any{"num": 1.0}}))
	is.Equal(i.Type("MyOtherNum").Kind, "integer")
}

// TestEnumInVariant: REFERENCE-JS §9.4 item 67.
func TestEnumInVariant(t *testing.T) {
	is := is.New(t)
	i, err := loadJSON("some.face:1.0", spec.Invoker, `{"iface":"some.face","version":"1.0","ftn3rev":"1.6","types":{
		"MyEnum":{"type":"enum","items":["11","22",33]},"MyString":{"type":"string","minlen":3,"maxlen":16},
		"MyVariant":["MyString","MyEnum"]}}`)
	is.NoErr(err)
	v := i.Type("MyVariant")
	is.True(v.Check("22"))
	is.True(v.Check("444"))
	is.True(!v.Check(44.0))
	is.True(v.Check(33.0))
}

// TestVariantExplosion: variants of variants expand into a tree; a crafted
// definition gets an error instead of exponential load time.
func TestVariantExplosion(t *testing.T) {
	types := `"T0":"string"`
	for k := 1; k <= 40; k++ {
		types += fmt.Sprintf(`,"T%d":["T%d","T%d"]`, k, k-1, k-1)
	}
	_, err := loadJSON("x.face:1.0", spec.Invoker, `{"iface":"x.face","version":"1.0","ftn3rev":"1.6","types":{`+types+`}}`)
	var fe *pipeline.Error
	if !errors.As(err, &fe) || fe.Name != pipeline.InternalError || !strings.HasPrefix(fe.Desc, "Custom types too complex to compile: T") {
		t.Fatalf("got %v", err)
	}
}
