package codec

import (
	"encoding/json"
	"reflect"
	"testing"
)

var parseSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-1E-7`, `1e400`, `01`, `1.`, `.5`, `-`,
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u2028"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`,
	`"\ud83d\u0041"`, "\"bad \xff utf8\"", "\"ctl \x01\"", `"\x"`, `"\u12"`, `"unterminated`,
	`{"a":1,"b":[1,2,{"c":null}],"d":"x"}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`, ` {"a":1} `,
	`{"a":1} x`, `{"a":1}{}`, `[[[[[]]]]]`, `{"dup":1,"dup":2}`, `{"r":{"sum":3},"rid":"C17"}`,
	`{"e":"InvalidRequest","edesc":"Missing parameter b","rid":"C17"}`, "\t\n[1 , 2]\r",
	`tru`, `nul`, `falsey`, `1e`, `1e+`, `-01`, `"\u0000"`,
}

// FuzzParseMatchesStdlib: the fast parser accepts exactly what
// encoding/json accepts and builds the same value.
func FuzzParseMatchesStdlib(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseValue(data)
		var want any
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("input %q: parser err=%v, encoding/json err=%v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q: parser %#v, encoding/json %#v", data, got, want)
		}
	})
}

func TestParseDepthLimit(t *testing.T) {
	deep := make([]byte, 0, 2*maxDepth+2)
	for i := 0; i <= maxDepth; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i <= maxDepth; i++ {
		deep = append(deep, ']')
	}
	if _, err := parseValue(deep); err == nil {
		t.Fatal("nesting beyond the limit was accepted")
	}
	if _, err := parseValue(deep[1 : len(deep)-1]); err != nil {
		t.Fatalf("nesting at the limit refused: %v", err)
	}
}
