package spec_test

import (
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// def wraps the body of a test.face:1.0 definition.
func def(body string) string {
	if body != "" {
		body = "," + body
	}
	return `{"iface":"test.face","version":"1.0"` + body + `}`
}

// TestFTN3RevGates: REFERENCE-JS §9.4 item 52. Every feature used under a
// revision older than the one that introduced it is refused with the
// reference's message.
func TestFTN3RevGates(t *testing.T) {
	cases := []struct{ name, body, desc string }{
		{"invalid", `"ftn3rev":"1.2.3"`, "Invalid ftn3rev field"},
		{"not a string", `"ftn3rev":1.2`, "Invalid ftn3rev field"},
		{"major 2", `"ftn3rev":"2.0"`, "Not supported FTN3 revision"},
		{"imports", `"imports":[]`, "Import is FTN3 v1.1 feature"},
		{"types", `"types":{}`, "Custom types is FTN3 v1.1 feature"},
		{"bidirect", `"requires":["BiDirectChannel"]`, "BiDirectChannel is FTN3 v1.1 feature"},
		{"signature", `"ftn3rev":"1.1","requires":["MessageSignature"]`, "MessageSignature is FTN3 v1.2 feature"},
		{"seclvl", `"ftn3rev":"1.2","funcs":{"test":{"seclvl":"OPS"}}`, "Function seclvl is FTN3 v1.3 feature"},
		{"shortcut type", `"ftn3rev":"1.3","types":{"Str":"string"}`, "Type shortcut is FTN3 v1.4 feature"},
		{"shortcut field", `"ftn3rev":"1.3","types":{"M":{"type":"map","fields":{"a":"string"}}}`, "Type shortcut is FTN3 v1.4 feature"},
		{"shortcut param", `"ftn3rev":"1.3","funcs":{"f":{"params":{"a":"string"}}}`, "Type shortcut is FTN3 v1.4 feature"},
		{"shortcut resultvar", `"ftn3rev":"1.3","funcs":{"f":{"result":{"a":"string"}}}`, "Type shortcut is FTN3 v1.4 feature"},
		{"string minlen via alias", `"ftn3rev":"1.4","types":{"Str":"string","StrMin":{"type":"Str","minlen":1}}`, "String min/maxlen is FTN3 v1.5 feature"},
		{"map elemtype", `"ftn3rev":"1.5","types":{"Map":"map","MapElemType":{"type":"Map","elemtype":"string"}}`, "Map elemtype is FTN3 v1.6 feature"},
		{"enum", `"ftn3rev":"1.5","types":{"E":{"type":"enum","items":[1]}}`, "Enum/Set is FTN3 v1.6 feature"},
		{"set", `"ftn3rev":"1.5","types":{"S":{"type":"set","items":["a"]}}`, "Enum/Set is FTN3 v1.6 feature"},
		{"variant type", `"ftn3rev":"1.5","types":{"Or":["integer","string"]}`, "Type variant is FTN3 v1.6 feature"},
		{"variant param", `"ftn3rev":"1.5","funcs":{"f":{"params":{"a":["integer","string"]}}}`, "Type variant is FTN3 v1.6 feature"},
		{"variant resultvar", `"ftn3rev":"1.5","funcs":{"f":{"result":{"a":["integer","string"]}}}`, "Type variant is FTN3 v1.6 feature"},
		{"variant field", `"ftn3rev":"1.5","types":{"M":{"type":"map","fields":{"a":["integer","string"]}}}`, "Type variant is FTN3 v1.6 feature"},
		{"result type", `"ftn3rev":"1.6","funcs":{"f":{"result":"boolean"}}`, "Custom result type FTN3 v1.7 feature"},
		{"maxreqsize", `"ftn3rev":"1.7","funcs":{"f":{"maxreqsize":"1K"}}`, "Function maxreqsize/maxrspsize is FTN3 v1.8 feature"},
		{"maxrspsize", `"ftn3rev":"1.7","funcs":{"f":{"result":"string","maxrspsize":"1K"}}`, "Function maxreqsize/maxrspsize is FTN3 v1.8 feature"},
		{"binarydata", `"ftn3rev":"1.8","requires":["BinaryData"]`, "BinaryData is FTN3 v1.9 feature"},
		{"data type", `"ftn3rev":"1.8","types":{"D":{"type":"data"}}`, "'data' type is FTN3 v1.9 feature"},
		{"data variant", `"ftn3rev":"1.8","types":{"D":["data","string"]}`, "'data' type is FTN3 v1.9 feature"},
		{"data field", `"ftn3rev":"1.8","types":{"M":{"type":"map","fields":{"d":"data"}}}`, "'data' type is FTN3 v1.9 feature"},
		{"data elemtype", `"ftn3rev":"1.8","types":{"A":{"type":"array","elemtype":"data"}}`, "'data' type is FTN3 v1.9 feature"},
		{"data param", `"ftn3rev":"1.8","funcs":{"f":{"params":{"d":"data"}}}`, "'data' type is FTN3 v1.9 feature"},
		{"data result", `"ftn3rev":"1.8","funcs":{"f":{"result":{"d":"data"}}}`, "'data' type is FTN3 v1.9 feature"},
		{"executor 1.10", `"ftn3rev":"1.10"`, "Not supported FTN3 revision for Executor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadJSON("test.face:1.0", spec.Executor, def(c.body))
			wantErr(t, err, pipeline.InternalError, c.desc)
		})
	}
	t.Run("features at their revision load", func(t *testing.T) {
		is := is.New(t)
		for _, body := range []string{
			`"ftn3rev":"1.1","imports":[],"types":{},"requires":["BiDirectChannel"]`,
			`"ftn3rev":"1.2","requires":["MessageSignature"]`,
			`"ftn3rev":"1.4","types":{"Str":"string"}`,
			`"ftn3rev":"1.5","types":{"Str":"string","StrMin":{"type":"Str","minlen":1}}`,
			`"ftn3rev":"1.6","types":{"Or":["integer","string"],"E":{"type":"enum","items":[1]}}`,
			`"ftn3rev":"1.7","funcs":{"f":{"result":"boolean"}}`,
			`"ftn3rev":"1.9","requires":["BinaryData"],"funcs":{"f":{"params":{"d":"data"}}}`,
			`"ftn3rev":"1.4","types":{"A":{"type":"array","minlen":1}}`, // array minlen predates 1.5
		} {
			_, err := loadJSON("test.face:1.0", spec.Executor, def(body))
			is.NoErr(err) // body
		}
		// An Invoker accepts newer minors of major 1, not major 2.
		i, err := loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.10"`))
		is.NoErr(err)
		is.Equal(i.FTN3Rev(), "1.10")
		_, err = loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"2.0"`))
		wantErr(t, err, pipeline.InternalError, "Not supported FTN3 revision")
	})
}

// TestDefinitionErrors: REFERENCE-JS §9.4 items 55 and 57, plus what the
// spec forbids that the reference lets through.
func TestDefinitionErrors(t *testing.T) {
	cases := []struct{ name, body, desc string }{
		{"function name", `"funcs":{"Bad":{}}`, "Invalid function name: Bad"},
		{"type name", `"ftn3rev":"1.1","types":{"bad":{"type":"string"}}`, "Invalid type name: bad"},
		{"type without type", `"ftn3rev":"1.1","types":{"T":{"min":1}}`, `Missing "type" for custom type: T`},
		{"field without type", `"ftn3rev":"1.1","types":{"T":{"type":"map","fields":{"f":{"optional":true}}}}`, `Missing "type" for custom type field: T[f]`},
		{"unknown type in field variant", `"ftn3rev":"1.6","types":{"T":{"type":"map","fields":{"f":["string","Nope"]}}}`, "Unknown type Nope in test.face:1.0"},
		{"invalid elemtype", `"ftn3rev":"1.6","types":{"T":{"type":"array","elemtype":true}}`, `Invalid "elemtype" for custom type: T`},
		{"unknown base", `"ftn3rev":"1.1","types":{"T":{"type":"Nope"}}`, "Unknown type Nope in test.face:1.0"},
		{"unknown param type", `"funcs":{"f":{"params":{"a":{"type":"Nope"}}}}`, "Unknown type Nope in test.face:1.0"},
		{"unknown result type", `"ftn3rev":"1.7","funcs":{"f":{"result":"Nope"}}`, "Unknown type Nope in test.face:1.0"},
		{"enum without items", `"ftn3rev":"1.6","types":{"E":{"type":"enum"}}`, `Missing "items" for E`},
		{"bad items", `"ftn3rev":"1.6","types":{"E":{"type":"enum","items":[1.5]}}`, `Invalid "items" for custom type: E (1 to 1000 unique strings or integers)`},
		{"duplicate items", `"ftn3rev":"1.6","types":{"E":{"type":"set","items":["a","a"]}}`, `Invalid "items" for custom type: E (1 to 1000 unique strings or integers)`},
		{"bare enum param", `"ftn3rev":"1.6","funcs":{"f":{"params":{"e":"enum"}}}`, `"enum" and "set" require items (use a custom type): f(e)`},
		{"bad min", `"ftn3rev":"1.1","types":{"T":{"type":"integer","min":"1"}}`, `Invalid "min" for custom type: T`},
		{"bad maxlen", `"ftn3rev":"1.5","types":{"T":{"type":"string","maxlen":-1}}`, `Invalid "maxlen" for custom type: T`},
		{"bad regex", `"ftn3rev":"1.1","types":{"T":{"type":"string","regex":"(?<=a)b"}}`, "T:string: error parsing regexp: invalid named capture: `(?<=a)b`"},
		{"alias loop", `"ftn3rev":"1.4","types":{"A":"B","B":"A"}`, "Custom type recursion: A:B:A"},
		{"param name", `"funcs":{"f":{"params":{"A":{"type":"string"}}}}`, "Invalid parameter name: f(A)"},
		{"result name", `"funcs":{"f":{"result":{"A":{"type":"string"}}}}`, "Invalid resultvar name: f(A)"},
		{"param without type", `"funcs":{"f":{"params":{"a":{"type":"string"},"b":{"default":"B"}}}}`, "Missing type for params"},
		{"resultvar without type", `"funcs":{"f":{"result":{"a":{"type":"string"},"b":{}}}}`, "Missing type for resultvar: f(b)"},
		{"params not object", `"funcs":{"f":{"params":true}}`, "Invalid params object: f"},
		{"param not object", `"funcs":{"f":{"params":{"a":true}}}`, "Invalid parameter definition: f(a)"},
		{"result not object", `"funcs":{"f":{"result":true}}`, "Invalid result object: f"},
		{"resultvar not object", `"funcs":{"f":{"result":{"a":true}}}`, "Invalid resultvar definition: f(a)"},
		{"throws not array", `"funcs":{"f":{"result":{"a":{"type":"string"}},"throws":true}}`, `"throws" is not array: f`},
		{"throws without result", `"funcs":{"f":{"throws":["SomeError"]}}`, `"throws" without result: f`},
		{"bad throws name", `"funcs":{"f":{"result":{"a":{"type":"string"}},"throws":["some_error"]}}`, `Invalid "throws": some_error`},
		{"requires not array", `"requires":true`, `"requires" is not array`},
		{"bad size", `"ftn3rev":"1.8","funcs":{"f":{"maxreqsize":"21G"}}`, "Invalid size specification: 21G"},
		{"bad flag", `"funcs":{"f":{"rawresult":"yes"}}`, `Invalid "rawresult" flag: f`},
		{"funcs not object", `"funcs":[]`, `"funcs" is not an object`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadJSON("test.face:1.0", spec.Invoker, def(c.body))
			wantErr(t, err, pipeline.InternalError, c.desc)
		})
	}
	t.Run("loads without requires", func(t *testing.T) {
		i, err := loadJSON("test.face:1.0", spec.Invoker, def(`"funcs":{"f":{"result":{"a":{"type":"string"}},"throws":["SomeError"]}}`))
		is.New(t).NoErr(err)
		f, _ := i.Func("f")
		is.New(t).Equal(f.Throws(), []pipeline.ErrorName{"SomeError"})
	})
}

// TestParseSize: REFERENCE-JS §9.4 item 68.
func TestParseSize(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]int64{"21M": 21 << 20, "21K": 21 << 10, "21B": 21} {
		i, err := loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.8","funcs":{"f":{"maxreqsize":"`+in+`"}}`))
		is.NoErr(err)
		f, _ := i.Func("f")
		is.Equal(f.MaxReqSize(), want)
		is.Equal(f.MaxRspSize(), int64(65536)) // absent: 64 KiB
	}
	for _, in := range []string{"21", "21b", "21G", "0B", "-1K", "99999999999999999999M"} {
		_, err := loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.8","funcs":{"f":{"maxreqsize":"`+in+`"}}`))
		wantErr(t, err, pipeline.InternalError, "Invalid size specification: "+in)
	}
}
