package spec_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

func TestLoadDirWithInheritance(t *testing.T) {
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	info := a.Info()
	is.Equal(info.Name, "fileface.a")
	is.Equal(info.Version, "1.1")
	is.Equal(info.Inherits, []string{"fileface.b:3.1"})
	is.Equal(info.Imports, []string{})
	is.Equal(info.Constraints, []string{"AllowAnonymous", "MyRequire", "SecureChannel"})
	is.Equal(info.Funcs, []string{"testFunc", "noResult", "call", "customResult",
		"customResultVariant", "rawDownload", "triggerError", "sized", "rawUploadFunc"}) // own, then inherited
	is.Equal(a.FTN3Rev(), "1.8")
	is.True(a.Requires("SecureChannel"))
	is.True(!a.Requires("BiDirectChannel"))

	f, err := a.Func("rawUploadFunc") // inherited
	is.NoErr(err)
	is.True(f.RawUpload())
	_, err = a.Func("unknownFunc")
	wantErr(t, err, pipeline.InvokerError, "Unknown interface function: fileface.a:1.1:unknownFunc()")

	sized, _ := a.Func("sized")
	is.Equal(sized.MaxReqSize(), int64(2048))
	is.Equal(sized.MaxRspSize(), int64(1<<20))
	is.True(sized.Heavy())
	tf, _ := a.Func("testFunc")
	is.Equal(tf.MaxReqSize(), int64(spec.DefaultMaxSize))
	is.Equal(len(tf.Params()), 5)
	is.Equal(tf.Params()[4].Default, "DefAult")
	b := testdata(t, "fileface.b:3.1")
	is.Equal(b.Desc(), "Base interface of the loader tests.")
	bf, _ := b.Func("testFunc")
	is.Equal(bf.Desc(), "Takes one value of each scalar kind.")
}

func TestLoadSources(t *testing.T) {
	is := is.New(t)
	file, err := os.ReadFile("testdata/fileface.b-3.1-iface.json")
	is.NoErr(err)
	mem := fstest.MapFS{"fileface.b-3.1-iface.json": {Data: file}}

	// fs.FS source (what embed gives).
	i, err := spec.Load(mem).Iface("fileface.b:3.1")
	is.NoErr(err)
	is.Equal(i.IfaceVer(), "fileface.b:3.1")

	// The first source that has it wins; a missing file moves on.
	other := `{"iface":"fileface.b","version":"3.1","funcs":{"only":{}}}`
	i, err = spec.New(spec.FS(fstest.MapFS{}), spec.JSON([]byte(other)), spec.FS(mem)).Iface("fileface.b:3.1")
	is.NoErr(err)
	is.Equal(i.Info().Funcs, []string{"only"})

	// A file whose iface/version fields do not match is skipped (item 53).
	wrong := fstest.MapFS{"fileface.b-3.1-iface.json": {Data: []byte(`{"iface":"fileface.b","version":"3.2"}`)}}
	i, err = spec.New(spec.FS(wrong), spec.FS(mem)).Iface("fileface.b:3.1")
	is.NoErr(err)
	is.Equal(len(i.Funcs()), 2)
	_, err = spec.Load(wrong).Iface("fileface.b:3.1")
	wantErr(t, err, pipeline.InternalError, "Failed to load valid spec for fileface.b:3.1")

	// A version given as a number does not match (item 53).
	_, err = loadJSON("test.spec:2.4", spec.Invoker, `{"iface":"test.spec","version":2.4}`)
	wantErr(t, err, pipeline.InternalError, "Failed to load valid spec for test.spec:2.4")

	// Nothing anywhere (item 45), and a spec without funcs loads (item 53).
	_, err = spec.LoadDir("testdata").Iface("missing.face:1.0")
	wantErr(t, err, pipeline.InternalError, "Failed to load valid spec for missing.face:1.0")
	i, err = loadJSON("test.spec:2.4", spec.Invoker, `{"iface":"test.spec","version":"2.4"}`)
	is.NoErr(err)
	is.Equal(len(i.Funcs()), 0)

	// Broken JSON stops the search with a precise error.
	bad := fstest.MapFS{"fileface.b-3.1-iface.json": {Data: []byte(`{"iface":`)}}
	_, err = spec.New(spec.FS(bad), spec.FS(mem)).Iface("fileface.b:3.1")
	is.Equal(pipeline.NameOf(err), pipeline.InternalError)
	is.True(err != nil && strings.Contains(err.Error(), "Invalid JSON in spec fileface.b-3.1-iface.json"))
	_, err = spec.New(spec.JSON([]byte(`[1]`))).Iface("fileface.b:3.1")
	wantErr(t, err, pipeline.InternalError, "Invalid JSON spec (source 1): not an object")

	// A malformed ifacever.
	for _, iv := range []string{"iface.a:1.", "iface.a.1.0", "iface$%$%.a:1.0", "Iface.a:1.0"} {
		_, err = spec.LoadDir("testdata").Iface(iv)
		wantErr(t, err, pipeline.InvokerError, "Invalid ifacever: "+iv)
	}
}

func TestSetCachesAndIsConcurrent(t *testing.T) {
	is := is.New(t)
	s := spec.LoadDir("testdata")
	const n = 8
	got := make([]*spec.Iface, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[k], _ = s.Iface("fileface.a:1.1")
		}()
	}
	wg.Wait()
	for _, i := range got {
		is.True(i != nil)
		is.True(i == got[0]) // loaded once, shared
	}
	b1, err := s.Iface("fileface.b:3.1") // the base was loaded on the way
	is.NoErr(err)
	b2, _ := s.Lookup("fileface.b", "3.1")
	is.True(b1 == b2)
}

func TestAll(t *testing.T) {
	is := is.New(t)
	all, err := spec.LoadDir("testdata").All()
	is.NoErr(err)
	var names []string
	for _, i := range all {
		names = append(names, i.IfaceVer())
	}
	is.Equal(names, []string{"binaryface.a:1.0", "fileface.a:1.1", "fileface.b:3.1", "types.face:1.0"})
}

func TestImplements(t *testing.T) {
	// REFERENCE-JS §9.1 item 14.
	is := is.New(t)
	a := testdata(t, "fileface.a:1.1")
	for _, ok := range []string{"fileface.a:1.1", "fileface.a:1.0", "fileface.b:3.1", "fileface.b:3.0"} {
		is.True(a.Implements(ok)) // ok
	}
	for _, no := range []string{"fileface.a:1.2", "fileface.a:0.1", "fileface.b:3.2", "fileface.b:2.1", "bad"} {
		is.True(!a.Implements(no)) // fails
	}
	// Minors compare as numbers (the reference compares strings, §11.11).
	ten, err := loadJSON("x.face:1.10", spec.Invoker, `{"iface":"x.face","version":"1.10"}`)
	is.NoErr(err)
	is.True(ten.Implements("x.face:1.9"))
}
