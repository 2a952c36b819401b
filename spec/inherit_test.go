package spec_test

import (
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

const baseFace = `{"iface":"base.face","version":"1.0","ftn3rev":"1.4",
	"types":{"Str":{"type":"string"}},
	"funcs":{"f":{"params":{"a":{"type":"string"},"b":"integer"},"result":{"r":"string"},"seclvl":"Info"},
		"raw":{"rawresult":true},"up":{"rawupload":true}},
	"requires":["AllowAnonymous"]}`

// derived builds derived.face:1.0 inheriting base.face:1.0.
func derived(body string) string {
	return `{"iface":"derived.face","version":"1.0","ftn3rev":"1.4","inherit":"base.face:1.0","requires":["AllowAnonymous"]` + body + `}`
}

// TestInheritErrors: REFERENCE-JS §9.4 item 56.
func TestInheritErrors(t *testing.T) {
	fa := `"params":{"a":{"type":"string"},"b":"integer"},"result":{"r":"string"},"seclvl":"Info"`
	cases := []struct{ name, body, desc string }{
		{"type redefinition", `,"types":{"Str":"string"}`, `Iface "derived.face" type redefinition: Str`},
		{"fewer params", `,"funcs":{"f":{"params":{"a":"string"},"seclvl":"Info"}}`, `Invalid parameter count for: "f"`},
		{"reordered params", `,"funcs":{"f":{"params":{"b":"integer","a":"string"},"seclvl":"Info"}}`, `Invalid parameter order for "f/a"`},
		{"param type (full form)", `,"funcs":{"f":{"params":{"a":{"type":"integer"},"b":"integer"},"seclvl":"Info"}}`, `Parameter type mismatch "f/a"`},
		{"param type (shortcut)", `,"funcs":{"f":{"params":{"a":"string","b":"number"},"seclvl":"Info"}}`, `Parameter type mismatch "f/b"`},
		{"param type (variant)", `,"ftn3rev":"1.6","funcs":{"f":{"params":{"a":"string","b":["integer","string"]},"seclvl":"Info"}}`, `Parameter type mismatch "f/b"`},
		{"new param without default", `,"funcs":{"f":{` + fa + `,"params":{"a":"string","b":"integer","c":"string"}}}`, `Missing default for "f/c"`},
		{"seclvl", `,"funcs":{"f":{"params":{"a":"string","b":"integer"},"result":{"r":"string"}}}`, `'seclvl' mismatch for "f"`},
		{"rawresult", `,"funcs":{"raw":{}}`, `'rawresult' flag mismatch for "raw"`},
		{"rawupload", `,"funcs":{"up":{}}`, `'rawupload' flag mismatch for "up"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadJSON("derived.face:1.0", spec.Invoker, baseFace, derived(c.body))
			wantErr(t, err, pipeline.InternalError, c.desc)
		})
	}
	t.Run("missing constraint", func(t *testing.T) {
		d := `{"iface":"derived.face","version":"1.0","ftn3rev":"1.4","inherit":"base.face:1.0","requires":["SecureChannel"]}`
		_, err := loadJSON("derived.face:1.0", spec.Invoker, baseFace, d)
		wantErr(t, err, pipeline.InternalError, "Missing constraints from inherited: AllowAnonymous")
	})
	t.Run("invalid inherit", func(t *testing.T) {
		_, err := loadJSON("derived.face:1.0", spec.Invoker, `{"iface":"derived.face","version":"1.0","inherit":"1.0:abcedf"}`)
		wantErr(t, err, pipeline.InvokerError, "Invalid inherit ifacever: 1.0:abcedf")
	})
	t.Run("missing base", func(t *testing.T) {
		_, err := loadJSON("derived.face:1.0", spec.Invoker, derived(""))
		wantErr(t, err, pipeline.InternalError, "Failed to load valid spec for base.face:1.0")
	})
	t.Run("loop", func(t *testing.T) {
		a := `{"iface":"loop.a","version":"1.0","inherit":"loop.b:1.0"}`
		b := `{"iface":"loop.b","version":"1.0","inherit":"loop.a:1.0"}`
		_, err := loadJSON("loop.a:1.0", spec.Invoker, a, b)
		wantErr(t, err, pipeline.InternalError, "Interface inheritance or import loop: loop.a:1.0 -> loop.b:1.0 -> loop.a:1.0")
	})
	t.Run("compatible override", func(t *testing.T) {
		is := is.New(t)
		// Shortcut and full form of the same type match (the reference
		// compares the written form and would refuse this).
		body := `,"funcs":{"f":{"params":{"a":"string","b":{"type":"integer"},"c":{"type":"string","default":null}},"result":{"r":"string","s":"string"},"seclvl":"Info"},"g":{}}`
		i, err := loadJSON("derived.face:1.0", spec.Invoker, baseFace, derived(body))
		is.NoErr(err)
		is.Equal(i.Info().Funcs, []string{"f", "g", "raw", "up"})
		is.Equal(i.Info().Inherits, []string{"base.face:1.0"})
		is.True(i.Type("Str") != nil) // inherited type
		f, _ := i.Func("f")
		is.Equal(len(f.Params()), 3)
		is.Equal(len(f.ResultVars()), 2)
		is.True(i.Implements("base.face:1.0"))
	})
	t.Run("chain", func(t *testing.T) {
		is := is.New(t)
		top := `{"iface":"top.face","version":"2.3","ftn3rev":"1.4","inherit":"derived.face:1.0","requires":["AllowAnonymous"]}`
		i, err := loadJSON("top.face:2.3", spec.Invoker, baseFace, derived(""), top)
		is.NoErr(err)
		is.Equal(i.Inherits(), []string{"derived.face:1.0", "base.face:1.0"}) // direct base first
		is.True(i.Implements("base.face:1.0"))
	})
}

// TestImports: REFERENCE-JS §9.4 items 54 and 59.
func TestImports(t *testing.T) {
	base21 := `{"iface":"base.face","version":"2.1","ftn3rev":"1.1","types":{"MyString":{"type":"string"}},"funcs":{"firstFunc":{"rawresult":true}}}`
	t.Run("single", func(t *testing.T) {
		is := is.New(t)
		d := `{"iface":"derived.face","version":"1.0","ftn3rev":"1.1","imports":["base.face:2.1"],
			"types":{"MyInt":{"type":"integer"}},"funcs":{"secondFunc":{"rawresult":true}}}`
		i, err := loadJSON("derived.face:1.0", spec.Invoker, base21, d)
		is.NoErr(err)
		is.True(i.Type("MyString") != nil)
		is.True(i.Type("MyInt") != nil)
		is.Equal(i.Inherits(), []string{})
		is.Equal(i.Info().Funcs, []string{"secondFunc", "firstFunc"})
		is.Equal(i.Imports(), []string{"base.face:2.1"})
		is.True(!i.Implements("base.face:2.1")) // imports are not inheritance
	})
	t.Run("diamond takes the newer minor", func(t *testing.T) {
		is := is.New(t)
		base22 := `{"iface":"base.face","version":"2.2","ftn3rev":"1.4","types":{"MyString":{"type":"string"},"MyString2":"string"},"funcs":{"firstFunc":{"rawresult":true}}}`
		d1 := `{"iface":"derived.face1","version":"1.0","ftn3rev":"1.4","imports":["base.face:2.2"],"types":{"MyInt":"integer"},"funcs":{"secondFunc":{"rawresult":true}}}`
		d2 := `{"iface":"derived.face2","version":"1.0","ftn3rev":"1.4","imports":["base.face:2.1"],"types":{"MyInt2":"integer"},"funcs":{"thirdFunc":{"rawresult":true}}}`
		top := `{"iface":"top.face","version":"1.0","ftn3rev":"1.4","imports":["derived.face1:1.0","derived.face2:1.0"]}`
		i, err := loadJSON("top.face:1.0", spec.Invoker, base21, base22, d1, d2, top)
		is.NoErr(err)
		for _, ty := range []string{"MyString", "MyString2", "MyInt", "MyInt2"} {
			is.True(i.Type(ty) != nil) // ty
		}
		is.Equal(i.Inherits(), []string{})
		is.Equal(i.Imports(), []string{"base.face:2.2", "derived.face2:1.0", "derived.face1:1.0"})
		is.Equal(len(i.Funcs()), 3)
	})
	t.Run("incompatible majors", func(t *testing.T) {
		b1 := `{"iface":"test.b","version":"1.0","ftn3rev":"1.1"}`
		b2 := `{"iface":"test.b","version":"2.0","ftn3rev":"1.1"}`
		top := `{"iface":"test.a","version":"1.0","ftn3rev":"1.1","imports":["test.b:1.0","test.b:2.0"]}`
		_, err := loadJSON("test.a:1.0", spec.Invoker, b1, b2, top)
		wantErr(t, err, pipeline.InvokerError, "Incompatible iface versions: test.b 1.0/2.0")
	})
	t.Run("invalid import", func(t *testing.T) {
		_, err := loadJSON("test.a:1.0", spec.Invoker, `{"iface":"test.a","version":"1.0","ftn3rev":"1.1","imports":["test.b:x"]}`)
		wantErr(t, err, pipeline.InvokerError, "Invalid import ifacever: test.b:x")
	})
	t.Run("imported constraints must be repeated", func(t *testing.T) {
		b := `{"iface":"test.b","version":"1.0","ftn3rev":"1.1","requires":["SecureChannel"]}`
		top := `{"iface":"test.a","version":"1.0","ftn3rev":"1.1","imports":["test.b:1.0"]}`
		_, err := loadJSON("test.a:1.0", spec.Invoker, b, top)
		wantErr(t, err, pipeline.InternalError, "Missing constraints from inherited: SecureChannel")
	})
	t.Run("imported type redefined", func(t *testing.T) {
		top := `{"iface":"test.a","version":"1.0","ftn3rev":"1.1","imports":["base.face:2.1"],"types":{"MyString":{"type":"string"}}}`
		_, err := loadJSON("test.a:1.0", spec.Invoker, base21, top)
		wantErr(t, err, pipeline.InternalError, `Iface "test.a" type redefinition: MyString`)
	})
	t.Run("import loop", func(t *testing.T) {
		a := `{"iface":"loop.a","version":"1.0","ftn3rev":"1.1","imports":["loop.b:1.0"]}`
		b := `{"iface":"loop.b","version":"1.0","ftn3rev":"1.1","imports":["loop.a:1.0"]}`
		_, err := loadJSON("loop.a:1.0", spec.Invoker, a, b)
		wantErr(t, err, pipeline.InternalError, "Interface inheritance or import loop: loop.a:1.0 -> loop.b:1.0 -> loop.a:1.0")
	})
}
