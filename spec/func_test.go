package spec_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

func fn(t *testing.T, i *spec.Iface, name string) *spec.Func {
	t.Helper()
	f, err := i.Func(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCheckParamsInvoker: the request checks of REFERENCE-JS §6.3 and
// §9.2 items 16 and 29–33, InvokerError with the reference's messages.
func TestCheckParamsInvoker(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	tf := fn(t, a, "testFunc")
	good := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0}
	is.NoErr(tf.CheckParams(good))
	_, hasD := good["d"]
	is.True(!hasD)                                                                                          // CheckParams does not fill defaults
	is.NoErr(tf.CheckParams(map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4.0, "d": nil})) // null optional

	cases := []struct {
		fn   string
		p    map[string]any
		desc string
	}{
		{"noResult", map[string]any{}, "Missing parameter: fileface.a:1.1:noResult(a)"},
		{"noResult", map[string]any{"a": "x", "b": 1.0}, "Unknown parameter: fileface.a:1.1:noResult(b)"},
		{"call", map[string]any{"a": 1.0}, "No params are defined: fileface.a:1.1:call()"},
		{"testFunc", map[string]any{"a": 1.0, "n": 2.8, "o": map[string]any{}, "i": 4.0}, `Type mismatch for parameter: fileface.a:1.1:testFunc(a) = "1"`},
		{"testFunc", map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4.5}, `Type mismatch for parameter: fileface.a:1.1:testFunc(i) = "4.5"`},
		{"testFunc", map[string]any{"a": "1", "n": 2.8, "o": "x", "i": 4.0}, `Type mismatch for parameter: fileface.a:1.1:testFunc(o) = "x"`},
		{"testFunc", map[string]any{"a": "1", "n": 2.8, "o": []any{}, "i": 4.0}, `Type mismatch for parameter: fileface.a:1.1:testFunc(o) = "(array)"`},
		{"testFunc", map[string]any{"a": nil, "n": 2.8, "o": map[string]any{}, "i": 4.0}, `Type mismatch for parameter: fileface.a:1.1:testFunc(a) = "null"`},
		{"testFunc", map[string]any{"a": strings.Repeat("z", 100), "n": 2.8, "o": map[string]any{}, "i": true}, `Type mismatch for parameter: fileface.a:1.1:testFunc(i) = "true"`},
	}
	for _, c := range cases {
		err := fn(t, a, c.fn).CheckParams(c.p)
		wantErr(t, err, pipeline.InvokerError, c.desc)
	}
	// A long value is cut in the message.
	err := tf.CheckParams(map[string]any{"a": "1", "n": strings.Repeat("9", 100), "o": map[string]any{}, "i": 1.0})
	wantErr(t, err, pipeline.InvokerError, `Type mismatch for parameter: fileface.a:1.1:testFunc(n) = "`+strings.Repeat("9", 64)+`…"`)
	is.NoErr(fn(t, a, "call").CheckParams(nil))
}

// TestApplyDefaults: REFERENCE-JS §6.3: absent or null optional params
// become the default of this interface version; defaults are copied.
func TestApplyDefaults(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	tf := fn(t, a, "testFunc")
	p := tf.ApplyDefaults(map[string]any{"a": "1"})
	is.Equal(p["d"], "DefAult")
	p = tf.ApplyDefaults(map[string]any{"d": nil})
	is.Equal(p["d"], "DefAult")
	p = tf.ApplyDefaults(map[string]any{"d": "mine"})
	is.Equal(p["d"], "mine")
	is.True(fn(t, a, "noResult").ApplyDefaults(nil) == nil) // nothing to add, no map made

	i, err := loadJSON("d.face:1.0", spec.Invoker, `{"iface":"d.face","version":"1.0","funcs":{"f":{"params":{
		"m":{"type":"map","default":{"k":[1,2]}},"z":{"type":"string","default":null},"r":{"type":"integer"}}}}}`)
	is.NoErr(err)
	f := fn(t, i, "f")
	p1 := f.ApplyDefaults(nil)
	is.Equal(p1, map[string]any{"m": map[string]any{"k": []any{1.0, 2.0}}, "z": nil})
	p1["m"].(map[string]any)["k"].([]any)[0] = "changed"
	p2 := f.ApplyDefaults(nil)
	is.Equal(p2["m"], map[string]any{"k": []any{1.0, 2.0}}) // the spec's default is untouched
	// default null: null is accepted without a type check (item 63).
	is.NoErr(f.CheckParams(map[string]any{"z": nil, "r": 1.0}))
	is.NoErr(f.CheckParams(map[string]any{"z": "abc", "r": 1.0}))
	wantErr(t, f.CheckParams(map[string]any{"r": nil}), pipeline.InvokerError, `Type mismatch for parameter: d.face:1.0:f(r) = "null"`)
	wantErr(t, f.CheckParams(map[string]any{"z": 1.0, "r": 1.0}), pipeline.InvokerError, `Type mismatch for parameter: d.face:1.0:f(z) = "1"`)
}

// TestCheckResultInvoker: REFERENCE-JS §6.4 and §9.2 items 19, 25–28.
func TestCheckResultInvoker(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	tf := fn(t, a, "testFunc")
	is.NoErr(tf.CheckResult(map[string]any{"res": "MY_RESULT"}))
	r := map[string]any{"res": "x", "newer": 1.0}
	is.NoErr(tf.CheckResult(r))
	is.Equal(r, map[string]any{"res": "x"}) // unknown result variables are dropped
	wantErr(t, tf.CheckResult(map[string]any{}), pipeline.InternalError, "Missing result variable: testFunc(res)")
	wantErr(t, tf.CheckResult(map[string]any{"res": 1.0}), pipeline.InternalError, `Type mismatch for result variable: testFunc(res) = "1"`)
	wantErr(t, tf.CheckResult("x"), pipeline.InternalError, "Invalid message: r")
	wantErr(t, tf.CheckResult(nil), pipeline.InternalError, "Invalid message: r")

	is.NoErr(fn(t, a, "customResult").CheckResult(true))
	wantErr(t, fn(t, a, "customResult").CheckResult("true"), pipeline.InternalError, `Result type mismatch: customResult() = "true"`)
	is.NoErr(fn(t, a, "customResultVariant").CheckResult(true))
	is.NoErr(fn(t, a, "customResultVariant").CheckResult("yes"))
	wantErr(t, fn(t, a, "rawDownload").CheckResult(map[string]any{}), pipeline.InternalError, "Raw result is expected: rawDownload()")

	// Raw or message (items 25, 27).
	is.NoErr(fn(t, a, "rawDownload").CheckRaw(true))
	wantErr(t, fn(t, a, "rawDownload").CheckRaw(false), pipeline.InternalError, "Raw result is expected: rawDownload()")
	wantErr(t, tf.CheckRaw(true), pipeline.InternalError, "Raw result is not expected: testFunc()")
	is.NoErr(tf.CheckRaw(false))

	// Upload (item 30).
	wantErr(t, tf.CheckUpload(true), pipeline.InvokerError, "Raw upload is not allowed: testFunc()")
	is.NoErr(fn(t, a, "rawUploadFunc").CheckUpload(true))
	is.NoErr(tf.CheckUpload(false))

	// What needs an answer.
	is.True(tf.ExpectsResult())
	is.True(!fn(t, a, "noResult").ExpectsResult())
	is.True(!fn(t, a, "call").ExpectsResult())
	is.True(fn(t, a, "rawDownload").ExpectsResult())
	is.True(fn(t, a, "customResult").ExpectsResult())
}

// TestCheckError: REFERENCE-JS §6.4 item 2 and §9.2 items 24 and 28.
func TestCheckError(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	te := fn(t, a, "triggerError")
	is.True(te.Declares("MY_ERROR"))
	err := te.CheckError("MY_ERROR", "it failed")
	wantErr(t, err, "MY_ERROR", "it failed")
	is.True(pipeline.IsRemote(err))
	err = te.CheckError(pipeline.InvalidRequest, "bad")
	wantErr(t, err, pipeline.InvalidRequest, "bad")
	is.True(errors.Is(err, pipeline.ErrInvalidRequest))
	err = fn(t, a, "testFunc").CheckError("MY_ERROR", "")
	wantErr(t, err, pipeline.InternalError, "Not expected exception from Executor: testFunc() = MY_ERROR()")
	// Invoker-side names never pass from a peer (WIRE.md §8.1).
	err = te.CheckError(pipeline.Timeout, "late")
	wantErr(t, err, pipeline.InternalError, "Not expected exception from Executor: triggerError() = Timeout(late)")
	is.True(!pipeline.IsRemote(err))
}

// TestExecutorRole: the same checks seen from the Executor: InvalidRequest
// for requests, strict results, optional map fields filled with null.
func TestExecutorRole(t *testing.T) {
	is := is.New(t)
	s := spec.LoadDir("testdata", spec.WithRole(spec.Executor))
	is.Equal(s.Role(), spec.Executor)
	is.Equal(spec.Executor.String(), "Executor")
	a, err := s.Iface("fileface.a:1.1")
	is.NoErr(err)
	is.Equal(a.Role(), spec.Executor)
	_, err = a.Func("nope")
	wantErr(t, err, pipeline.InvalidRequest, "Unknown interface function: fileface.a:1.1:nope()")
	tf := fn(t, a, "testFunc")
	wantErr(t, tf.CheckParams(map[string]any{"a": "1"}), pipeline.InvalidRequest, "Missing parameter: fileface.a:1.1:testFunc(n)")
	wantErr(t, tf.CheckUpload(true), pipeline.InvalidRequest, "Raw upload is not allowed: testFunc()")
	wantErr(t, tf.CheckResult(map[string]any{"res": "x", "extra": 1.0}), pipeline.InternalError, "Unknown result variable: testFunc(extra)")
	is.NoErr(fn(t, a, "call").CheckResult(map[string]any{}))
	wantErr(t, fn(t, a, "call").CheckResult(map[string]any{"x": 1.0}), pipeline.InternalError, "No result variables are expected: call()")
	is.NoErr(fn(t, a, "triggerError").CheckError("MY_ERROR", ""))
	wantErr(t, tf.CheckError("MY_ERROR", "x"), pipeline.InternalError, "Not expected error")

	// Optional fields: the receiver of a message fills them with null.
	doc := `{"iface":"o.face","version":"1.0","ftn3rev":"1.1","types":{"M":{"type":"map","fields":{
		"a":{"type":"string"},"b":{"type":"string","optional":true}}}},
		"funcs":{"f":{"params":{"m":{"type":"M"}},"result":{"m":{"type":"M"}}}}}`
	ex, err := loadJSON("o.face:1.0", spec.Executor, doc)
	is.NoErr(err)
	p := map[string]any{"m": map[string]any{"a": "x"}}
	is.NoErr(fn(t, ex, "f").CheckParams(p))
	is.Equal(p["m"], map[string]any{"a": "x", "b": nil}) // executor fills requests
	r := map[string]any{"m": map[string]any{"a": "x"}}
	is.NoErr(fn(t, ex, "f").CheckResult(r))
	is.Equal(r["m"], map[string]any{"a": "x"}) // and leaves its own results alone

	inv, err := loadJSON("o.face:1.0", spec.Invoker, doc)
	is.NoErr(err)
	p = map[string]any{"m": map[string]any{"a": "x"}}
	is.NoErr(fn(t, inv, "f").CheckParams(p))
	is.Equal(p["m"], map[string]any{"a": "x"}) // invoker leaves requests alone
	r = map[string]any{"m": map[string]any{"a": "x"}}
	is.NoErr(fn(t, inv, "f").CheckResult(r))
	is.Equal(r["m"], map[string]any{"a": "x", "b": nil}) // and fills results (spec, not the reference)
}

func TestFuncDescription(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	tf := fn(t, a, "testFunc")
	is.Equal(tf.Name(), "testFunc")
	ps := tf.Params()
	is.Equal(ps[0].Name, "a")
	is.Equal(ps[0].Type, []string{"string"})
	is.True(!ps[0].HasDefault)
	is.True(ps[4].HasDefault)
	is.Equal(tf.ResultVars()[0].Name, "res")
	is.Equal(tf.ResultType(), nil)
	is.Equal(fn(t, a, "customResultVariant").ResultType(), []string{"boolean", "string"})
	is.Equal(fn(t, a, "triggerError").Throws(), []pipeline.ErrorName{"MY_ERROR"})
	is.Equal(tf.SecLvl(), "")
	is.True(!tf.RawResult())
	is.True(spec.IsStandardError(pipeline.SecurityError))
	is.True(!spec.IsStandardError(pipeline.CommError))
	bin := testdata(t, "binaryface.a:1.0")
	is.True(bin.Requires("BinaryData"))
	bp := fn(t, bin, "binaryPingPong")
	is.NoErr(bp.CheckParams(map[string]any{"ping": []byte{1, 2, 3}}))
	is.True(bp.CheckParams(map[string]any{"ping": "AQID"}) != nil)
	is.NoErr(bp.CheckResult(map[string]any{"pong": []byte{1, 2, 3}}))
}

// TestExecutorTypeMismatch: REFERENCE-JS §9.4 item 58 (the reference's
// deprecated checkFutoInType): on the Executor side a wrongly typed
// parameter is InvalidRequest "Type mismatch for parameter".
func TestExecutorTypeMismatch(t *testing.T) {
	is := is.New(t)
	i, err := loadJSON("t.face:1.0", spec.Executor, `{"iface":"t.face","version":"1.0","funcs":{
		"f":{"params":{"i":{"type":"integer"},"b":{"type":"boolean"}}}}}`)
	is.NoErr(err)
	f := fn(t, i, "f")
	is.NoErr(f.CheckParams(map[string]any{"i": 1.0, "b": true}))
	wantErr(t, f.CheckParams(map[string]any{"i": 1.3, "b": true}), pipeline.InvalidRequest, `Type mismatch for parameter: t.face:1.0:f(i) = "1.3"`)
	wantErr(t, f.CheckParams(map[string]any{"i": 1.0, "b": "true"}), pipeline.InvalidRequest, `Type mismatch for parameter: t.face:1.0:f(b) = "true"`)
	ps := f.Params()
	is.True(ps[0].Check(int64(7)))
	is.True(!ps[0].Check("7"))
	is.True(!ps[1].Check(nil))
}

// TestSchemaCases: REFERENCE-JS §9.4 item 70. The reference validates
// files against the FTN3 JSON Schema in development mode; we validate
// against the type table instead (WIRE.md §6.2), so a shortcut under
// ftn3rev 1.0 gets the revision gate's message rather than the schema
// validator's "data/funcs/fnc/params/a must be object".
func TestSchemaCases(t *testing.T) {
	is := is.New(t)
	_, err := loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.9","types":{"D":{"type":"data"}},"funcs":{"fnc":{"params":{"a":"string","b":{"type":"D"}},"result":{"r":"D"}}}`))
	is.NoErr(err)
	_, err = loadJSON("test.face:1.0", spec.Invoker, def(`"funcs":{"fnc":{"params":{"a":{"type":"string"}},"result":{"r":{"type":"string"}}}}`))
	is.NoErr(err)
	_, err = loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.0","funcs":{"fnc":{"params":{"a":"string"}}}`))
	wantErr(t, err, pipeline.InternalError, "Type shortcut is FTN3 v1.4 feature")
	_, err = loadJSON("test.face:1.0", spec.Invoker, def(`"ftn3rev":"1.0.b"`))
	wantErr(t, err, pipeline.InternalError, "Invalid ftn3rev field")
}

// TestChecksConcurrent: a Func is shared by every call; checks on
// separate messages run in parallel (run with -race).
func TestChecksConcurrent(t *testing.T) {
	a := testdata(t, "fileface.a:1.1")
	tf := fn(t, a, "testFunc")
	errs := make(chan error, 8*100*2)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				p := tf.ApplyDefaults(map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4.0})
				errs <- tf.CheckParams(p)
				errs <- tf.CheckResult(map[string]any{"res": "x", "extra": true})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
