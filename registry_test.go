package ccm_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

var bg = context.Background()

func isInvokerError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ccm.ErrInvokerError) {
		t.Fatalf("want InvokerError, got %v", err)
	}
}

// §9.1 item 1 and 2: a CCM builds without options; Register emits "register".
func TestRegisterEmitsEvent(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	var got []ccm.Event
	unsub := c.Subscribe(func(ev ccm.Event) { got = append(got, ev) })
	is.NoErr(c.Register(bg, "a", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	is.Equal(got, []ccm.Event{{Kind: ccm.EventRegister, Name: "a", IfaceVer: "iface.a:1.0"}})
	is.Equal(got[0].Kind.String(), "register")
	unsub()
	is.NoErr(c.Register(bg, "b", "iface.b:1.0", "http://127.0.0.1:1/ftn"))
	is.Equal(len(got), 1) // unsubscribed: no more events
}

// §9.1 item 3: Unregister removes the iface, fires "unregister"; AssertIface
// on it fails; other ifaces are unaffected.
func TestUnregister(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.Register(bg, "a", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	is.NoErr(c.Register(bg, "b", "iface.b:1.0", "ws://127.0.0.1:1/ftn"))
	var got []ccm.Event
	c.Subscribe(func(ev ccm.Event) { got = append(got, ev) })
	is.NoErr(c.Unregister("a"))
	is.Equal(got, []ccm.Event{{Kind: ccm.EventUnregister, Name: "a", IfaceVer: "iface.a:1.0"}})
	isInvokerError(t, c.AssertIface("a", "iface.a:1.0"))
	_, err := c.Iface("a")
	isInvokerError(t, err)
	is.NoErr(c.AssertIface("b", "iface.b:1.0"))
}

// §9.1 item 4, plus RI bug §11.11: minors compare as numbers.
func TestAssertIfaceVersions(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.Register(bg, "main", "iface.a:1.10", "http://127.0.0.1:1/ftn"))
	is.NoErr(c.Alias("main", "alias"))
	for _, ok := range []string{"iface.a:1.0", "iface.a:1.9", "iface.a:1.10"} {
		is.NoErr(c.AssertIface("alias", ok)) // lower or equal minor, same major
		is.NoErr(c.AssertIface("main", ok))
	}
	for _, bad := range []string{"iface.a:1.11", "iface.a:2.0", "iface.a:0.1", "iface.b:1.0"} {
		isInvokerError(t, c.AssertIface("alias", bad))
	}
	a, err := c.Iface("alias")
	is.NoErr(err)
	m, err := c.Iface("main")
	is.NoErr(err)
	is.True(a == m) // aliases share the instance
}

// §9.1 item 5.
func TestRegisterDuplicate(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.Register(bg, "a", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	err := c.Register(bg, "a", "iface.b:1.0", "http://127.0.0.1:1/ftn")
	isInvokerError(t, err)
	is.True(strings.Contains(err.Error(), "already registered"))
	is.NoErr(c.Alias("a", "x"))
	isInvokerError(t, c.Register(bg, "x", "iface.b:1.0", "http://127.0.0.1:1/ftn")) // aliases count
}

// §9.1 item 6.
func TestRegisterBadIfacever(t *testing.T) {
	c := ccm.New()
	defer c.Close()
	for _, v := range []string{"iface.a:1.", "iface.a.1.0", "iface$%$%.a.1.0", "", "Iface.a:1.0", "iface.a:1", "iface.a:a.b", "iface.a:99999999999999999999.0"} {
		isInvokerError(t, c.Register(bg, "n", v, "http://127.0.0.1:1/ftn"))
	}
	if err := c.Register(bg, "ok", "iface.a:1.0", "http://127.0.0.1:1/ftn"); err != nil {
		t.Fatal(err)
	}
	isInvokerError(t, c.AssertIface("ok", "iface.a"))
}

// Names: empty and unknown "#" names are refused; the standard reserved
// names may be registered (INVOKER.md §1.1).
func TestRegisterNames(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	isInvokerError(t, c.Register(bg, "", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	isInvokerError(t, c.Register(bg, "#mine", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	for _, n := range []string{"#log", "#defense", "#cache.default", "#cache.L2"} {
		is.NoErr(c.Register(bg, n, "futoin.x:1.0", "http://127.0.0.1:1/ftn"))
	}
	isInvokerError(t, c.Alias("#log", "#other"))
}

// Endpoints: schemes, secure marking (§9.1 item 8), bad URLs.
func TestRegisterEndpoints(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	for i, tc := range []struct {
		url    string
		secure bool
	}{
		{"http://127.0.0.1:1/ftn", false},
		{"https://127.0.0.1:1/ftn", true},
		{"ws://127.0.0.1:1/ftn", false},
		{"wss://127.0.0.1:1/ftn", true},
		{"secure+http://127.0.0.1:1/ftn", true},
		{"secure+ws://127.0.0.1:1/ftn", true},
		{"HTTP://127.0.0.1:1/ftn", false},
		{"tcp://127.0.0.1:1", false},
		{"tcp://[::1]:1/", false},
		{"secure+tcp://127.0.0.1:1", true},
		{"unix:///tmp/x.sock", true},
	} {
		name := "n" + string(rune('a'+i))
		is.NoErr(c.Register(bg, name, "iface.a:1.0", tc.url))
		it, err := c.Iface(name)
		is.NoErr(err)
		is.Equal(it.Secure(), tc.secure) // secure marking
	}
	for _, bad := range []string{"unknown://x/y", "self://x", "unix://host/tmp/x.sock", "unix://", "unix:relative.sock",
		"tcp://127.0.0.1", "tcp://127.0.0.1:1/path", "tcp://:1", "http://", "::not a url", "secure+ftp://h/"} {
		isInvokerError(t, c.Register(bg, "bad", "iface.a:1.0", bad))
	}
}

// A password in the URL is refused, and the error does not repeat it.
func TestRegisterRefusesURLCredentials(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	err := c.Register(bg, "a", "iface.a:1.0", "https://user:hunter2@127.0.0.1:1/ftn")
	isInvokerError(t, err)
	is.True(!strings.Contains(err.Error(), "hunter2"))
	err = c.Register(bg, "a", "iface.a:1.0", "https://127.0.0.1:1/ftn", ccm.Credentials("nocolon"))
	isInvokerError(t, err)
	is.True(!strings.Contains(err.Error(), "nocolon"))
	err = c.Register(bg, "a", "iface.a:1.0", "https://127.0.0.1:1/ftn", ccm.Credentials("-hmac:u"))
	isInvokerError(t, err)
}

// §9.1 item 9.
func TestUnknownNames(t *testing.T) {
	c := ccm.New()
	defer c.Close()
	_, err := c.Iface("missing")
	isInvokerError(t, err)
	isInvokerError(t, c.Unregister("missing"))
	isInvokerError(t, c.AssertIface("missing", "iface.a:1.0"))
}

// §9.1 item 10, plus RI bug §11.12: unregistering an alias really removes
// it, so a name reused later survives its old owner's unregistration.
func TestAliases(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.Register(bg, "main", "iface.a:1.0", "http://127.0.0.1:1/ftn"))
	is.NoErr(c.Alias("main", "a1"))
	is.NoErr(c.Alias("a1", "a2")) // alias of an alias
	isInvokerError(t, c.Alias("main", "a1"))
	isInvokerError(t, c.Alias("missing", "a3"))
	m, _ := c.Iface("main")
	a1, _ := c.Iface("a1")
	a2, _ := c.Iface("a2")
	is.True(m == a1 && a1 == a2)

	is.NoErr(c.Unregister("a1")) // only the alias goes
	_, err := c.Iface("a1")
	isInvokerError(t, err)
	_, err = c.Iface("main")
	is.NoErr(err)

	is.NoErr(c.Register(bg, "other", "iface.b:1.0", "http://127.0.0.1:1/ftn"))
	is.NoErr(c.Alias("other", "a1")) // reuse the freed alias name

	is.NoErr(c.Unregister("main")) // main and its remaining aliases go
	_, err = c.Iface("a2")
	isInvokerError(t, err)
	o, err := c.Iface("a1") // the reused name belongs to "other" and stays
	is.NoErr(err)
	is.Equal(o.IfaceName(), "iface.b")
}

// Close emits "close", later registrations fail, and calls fail fast.
func TestCloseCCM(t *testing.T) {
	is := is.New(t)
	c := ccm.New()
	is.NoErr(c.Register(bg, "a", "iface.a:1.0", "ws://127.0.0.1:1/ftn"))
	it, _ := c.Iface("a")
	var kinds []ccm.EventKind
	c.Subscribe(func(ev ccm.Event) { kinds = append(kinds, ev.Kind) })
	is.NoErr(c.Close())
	is.NoErr(c.Close()) // twice is fine, one event
	is.Equal(kinds, []ccm.EventKind{ccm.EventClose})
	isInvokerError(t, c.Register(bg, "b", "iface.a:1.0", "ws://127.0.0.1:1/ftn"))
	_, err := it.Call(bg, "f", nil)
	isInvokerError(t, err)
}

// Registered endpoints that are never called hold no goroutines, and many
// CCMs coexist.
func TestIdleEndpointsHoldNoGoroutines(t *testing.T) {
	is := is.New(t)
	var cs []*ccm.CCM
	for k := 0; k < 3; k++ {
		c := ccm.New()
		cs = append(cs, c)
		for i := 0; i < 300; i++ {
			u := "ws://127.0.0.1:1/ftn"
			if i%2 == 0 {
				u = "http://127.0.0.1:1/ftn"
			}
			is.NoErr(c.Register(bg, "n"+string(rune('A'+i%26))+strings.Repeat("x", i/26), "iface.a:1.0", u))
		}
	}
	is.Equal(pipelineGoroutines(), 0) // registering started nothing
	for _, c := range cs {
		is.NoErr(c.Close())
	}

	// The detector works: a used endpoint has its pipeline running, and
	// Close stops it.
	s := newService(t)
	c := ccm.New()
	it := register(t, c, s.srv.WSURL())
	_, err := it.Call(bg, "echo", nil)
	is.NoErr(err)
	is.True(pipelineGoroutines() > 0)
	is.NoErr(c.Close())
	if pipelineGoroutines() != 0 {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
	is.Equal(pipelineGoroutines(), 0)
}

// pipelineGoroutines counts goroutines running code of the pipeline, its
// stages or its sinks. Tests close what they start, and Close joins, so
// outside a test's own calls the count is zero.
func pipelineGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, pkg := range []string{"ccm/pipeline.", "ccm/sink.", "ccm/stage."} {
			if strings.Contains(g, "github.com/ftnpipe/"+pkg) {
				n++
				break
			}
		}
	}
	return n
}
