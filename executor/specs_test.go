package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

const chk = "test.chk:1.0:"

// Parameters are checked against the definition before the handler runs,
// and the handler sees them with defaults applied.
func TestSpecParams(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		reached := f.count("test.chk:add")
		before := reached.Load()

		a := p.call(t, msg{f: chk + "add", p: map[string]any{"a": 1, "b": 2}}, false)
		is.Equal(a.E, "")                                 // good call
		is.Equal(a.R, map[string]any{"sum": float64(13)}) // c defaulted to 10
		is.Equal(reached.Load(), before+1)

		for _, c := range []struct {
			p    map[string]any
			desc string
		}{
			{map[string]any{"a": 1}, "Missing parameter: test.chk:1.0:add(b)"},
			{map[string]any{"a": 1, "b": 2, "z": 3}, "Unknown parameter: test.chk:1.0:add(z)"},
			{map[string]any{"a": "x", "b": 2}, `Type mismatch for parameter: test.chk:1.0:add(a) = "x"`},
			{map[string]any{"a": 101, "b": 2}, `Type mismatch for parameter: test.chk:1.0:add(a) = "101"`}, // over the type's max
			{map[string]any{"a": 1, "b": 2.5}, `Type mismatch for parameter: test.chk:1.0:add(b) = "2.5"`},
		} {
			a := p.call(t, msg{f: chk + "add", p: c.p}, false)
			is.Equal(a.E, string(pipeline.InvalidRequest)) // bad params
			is.Equal(a.EDesc, c.desc)
		}
		is.Equal(reached.Load(), before+1) // the handler never saw a bad call

		// A missing optional map field reaches the handler as null.
		a = p.call(t, msg{f: chk + "opts", p: map[string]any{"o": map[string]any{}}}, false)
		is.Equal(a.E, "")
		is.Equal(a.R, map[string]any{"o": map[string]any{"x": nil}})

		a = p.call(t, msg{f: chk + "nope"}, false)
		is.Equal(a.E, string(pipeline.InvalidRequest)) // not in the definition
		is.Equal(a.EDesc, "Unknown interface function: test.chk:1.0:nope()")
		a = p.call(t, msg{f: chk + "missing"}, false)
		is.Equal(a.E, string(pipeline.NotImplemented)) // declared, no handler
	})
}

// Results are checked before they are sent: a handler's bad result is an
// InternalError with a fixed description; the detail goes to the hook.
func TestSpecResults(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		for kind, detail := range map[string]string{
			"type":    `Type mismatch for result variable: wrong(ok) = "1"`,
			"missing": "Missing result variable: wrong(ok)",
			"extra":   "Unknown result variable: wrong(more)",
			"nil":     "Invalid message: r",
		} {
			a := p.call(t, msg{f: chk + "wrong", p: map[string]any{"kind": kind}}, false)
			is.Equal(a.E, string(pipeline.InternalError)) // bad result
			is.Equal(a.EDesc, "result does not match the function's definition")
			is.True(strings.Contains(f.hooks(), detail)) // the hook saw why
			is.True(!strings.Contains(a.EDesc, "secret"))
		}
		a := p.call(t, msg{f: chk + "wrong", p: map[string]any{"kind": "ok"}}, false)
		is.Equal(a.R, map[string]any{"ok": "fine"}) // a good result passes
		a = p.call(t, msg{f: chk + "word"}, false)
		is.Equal(a.R, "w") // a result type

		a = p.call(t, msg{f: chk + "raw"}, false)
		is.Equal(a.E, string(pipeline.InternalError)) // raw results are not supported
		is.True(strings.Contains(f.hooks(), "Raw result is expected: raw()"))

		a = p.call(t, msg{f: chk + "sized", p: map[string]any{"n": 10}}, false)
		is.Equal(a.R, map[string]any{"s": "xxxxxxxxxx"})
		if p.channel() == executor.ChannelInternal {
			return // nothing is encoded in process: no size limits
		}
		a = p.call(t, msg{f: chk + "sized", p: map[string]any{"n": 2000}}, false)
		is.Equal(a.E, string(pipeline.InternalError)) // over maxrspsize 1K (not 64K)
		is.Equal(a.EDesc, "response too big")
		a = p.call(t, msg{f: chk + "sized", p: map[string]any{"n": 1, "pad": strings.Repeat("p", 100)}}, false)
		is.Equal(a.E, string(pipeline.InvalidRequest)) // over maxreqsize 100B
		is.Equal(a.EDesc, "message too big: the limit is 100 bytes")
	})
}

// Errors: declared and standard ones pass; others become InternalError.
func TestSpecErrors(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		a := p.call(t, msg{f: chk + "fail", p: map[string]any{"name": "MyError"}}, false)
		is.Equal(a.E, "MyError") // declared in throws
		is.Equal(a.EDesc, "the desc")
		a = p.call(t, msg{f: chk + "fail", p: map[string]any{"name": "PleaseReauth"}}, false)
		is.Equal(a.E, "PleaseReauth") // standard
		a = p.call(t, msg{f: chk + "fail", p: map[string]any{"name": "OtherError"}}, false)
		is.Equal(a.E, string(pipeline.InternalError)) // not declared
		is.Equal(a.EDesc, "Not expected error")
		is.True(strings.Contains(f.hooks(), "OtherError")) // reported
		a = p.call(t, msg{f: chk + "fail", p: map[string]any{"name": "plain"}}, false)
		is.Equal(a.E, string(pipeline.InternalError)) // a Go error
		is.Equal(a.EDesc, "internal error")
	})
}

// A function without a result answers only with forcersp; errors always.
func TestSpecVoid(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		reached := f.count("test.chk:note")
		before := reached.Load()
		a := p.call(t, msg{f: chk + "note", p: map[string]any{"msg": "hi"}}, true)
		if p.channel() == executor.ChannelInternal {
			is.Equal(a.R, map[string]any{}) // in process the caller always gets {}
		} else {
			is.True(a.None) // no reply (HTTP: an empty body)
		}
		a = p.call(t, msg{f: chk + "note", p: map[string]any{"msg": "hi"}, force: true}, true)
		is.True(!a.None)
		is.Equal(a.R, map[string]any{}) // forcersp: {}
		a = p.call(t, msg{f: chk + "note", p: map[string]any{"msg": "fail"}}, true)
		is.Equal(a.E, string(pipeline.InvalidRequest)) // errors are sent anyway
		is.Equal(reached.Load(), before+3)
	})
}

// seclvl against the level of the caller's credentials.
func TestSpecSecLvl(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		anon := msg{}
		clear := msg{sec: "alice:pw:with:colons"}
		signed := msg{mac: true}
		internal := msg{sec: executor.InternalUser}
		for _, c := range []struct {
			fn   string
			who  msg
			want string // the level seen, or "" for PleaseReauth
		}{
			{"safe", anon, ""},
			{"safe", clear, executor.SecLvlSafeOps},
			{"safe", signed, executor.SecLvlPrivilegedOps},
			{"priv", clear, ""},
			{"priv", signed, executor.SecLvlPrivilegedOps},
			{"sys", signed, ""},
			{"sys", internal, executor.SecLvlSystem},
		} {
			if c.who.sec == executor.InternalUser && p.channel() != executor.ChannelInternal {
				continue
			}
			m := c.who
			m.f = chk + c.fn
			reached := f.count("test.chk:" + c.fn)
			before := reached.Load()
			a := p.call(t, m, false)
			if c.want == "" {
				is.Equal(a.E, string(pipeline.PleaseReauth)) // level too low
				is.Equal(a.EDesc, map[string]string{
					"safe": "SafeOps", "priv": "PrivilegedOps", "sys": "System"}[c.fn]) // the level needed
				is.Equal(reached.Load(), before) // not reached
				continue
			}
			is.Equal(a.E, "")
			is.Equal(a.R, map[string]any{"lvl": c.want})
			is.Equal(reached.Load(), before+1)
		}
	})
}

// Constraints, and the channel a handler sees.
func TestSpecConstraints(t *testing.T) {
	f := newFixture(t)
	f.each(t, func(t *testing.T, p peer) {
		is := is.New(t)
		call := func(m msg) (answer, bool) {
			reached := f.count(strings.Join(strings.Split(m.f, ":")[:1], "") + ":who")
			before := reached.Load()
			a := p.call(t, m, false)
			return a, reached.Load() > before
		}
		want := map[string]any{"user": "", "lvl": "Anonymous", "secure": p.isSecure(), "channel": p.channel()}

		a, reached := call(msg{f: chk + "who"})
		is.Equal(a.R, want) // Request.Secure and Channel

		a, reached = call(msg{f: "test.sec:1.0:who"})
		if p.isSecure() {
			is.Equal(a.R, want) // SecureChannel met
		} else {
			is.Equal(a.E, string(pipeline.SecurityError)) // SecureChannel needed
			is.Equal(a.EDesc, "Insecure channel")
			is.True(!reached)
		}

		a, reached = call(msg{f: "test.sig:1.0:who"})
		if p.channel() == executor.ChannelInternal {
			is.Equal(a.R, want) // in process needs no MAC
		} else {
			is.Equal(a.E, string(pipeline.SecurityError)) // MessageSignature needed
			is.True(!reached)
			a, _ = call(msg{f: "test.sig:1.0:who", sec: "alice:pw:with:colons"})
			is.Equal(a.E, string(pipeline.SecurityError)) // clear text is no signature
		}
		a, _ = call(msg{f: "test.sig:1.0:who", mac: true})
		is.Equal(a.E, "")
		is.Equal(a.R.(map[string]any)["user"], "alice") // signed

		a, reached = call(msg{f: "test.auth:1.0:who"})
		is.Equal(a.E, string(pipeline.SecurityError)) // no AllowAnonymous
		is.Equal(a.EDesc, "Anonymous not allowed")
		is.True(!reached)
		a, _ = call(msg{f: "test.auth:1.0:nope"})
		is.Equal(a.E, string(pipeline.UnknownInterface)) // hidden from anonymous callers
		a, _ = call(msg{f: "test.auth:1.9:who"})
		is.Equal(a.E, string(pipeline.UnknownInterface)) // hidden from anonymous callers
		a, _ = call(msg{f: "test.auth:1.0:who", sec: "alice:pw:with:colons"})
		is.Equal(a.R.(map[string]any)["lvl"], "SafeOps") // authenticated
		a, _ = call(msg{f: "test.auth:1.0:nope", sec: "alice:pw:with:colons"})
		is.Equal(a.E, string(pipeline.InvalidRequest)) // visible once authenticated
		a, _ = call(msg{f: "test.auth:1.9:who", sec: "alice:pw:with:colons"})
		is.Equal(a.E, string(pipeline.NotSupportedVersion))

		a, reached = call(msg{f: "test.bidi:1.0:who"})
		if p.stateful() {
			is.Equal(a.R, want) // BiDirectChannel met
		} else {
			is.Equal(a.E, string(pipeline.InvalidRequest)) // not over HTTP
			is.True(!reached)
		}
	})
}

func TestRegisterSpecErrors(t *testing.T) {
	is := is.New(t)
	h := func(context.Context, *executor.Request) (any, error) { return nil, nil }

	ex := executor.New(executor.WithSpecs(specSet()))
	defer ex.Close()
	err := ex.Register("test.none:1.0", map[string]executor.Handler{"who": h})
	is.True(err != nil) // no definition
	err = ex.Register("test.sec:1.0", map[string]executor.Handler{"whom": h})
	is.True(err != nil && strings.Contains(err.Error(), "whom")) // a handler without a function
	is.NoErr(ex.Register("test.sec:1.0", map[string]executor.Handler{"who": h}))

	invoker := spec.New(spec.JSON([]byte(specDocs[1])))
	iface, err := invoker.Iface("test.sec:1.0")
	is.NoErr(err)
	plain := executor.New()
	defer plain.Close()
	err = plain.RegisterSpec(iface, map[string]executor.Handler{"who": h})
	is.True(err != nil && strings.Contains(err.Error(), "Invoker")) // wrong role

	iface, err = specSet().Iface("test.sec:1.0")
	is.NoErr(err)
	is.NoErr(plain.RegisterSpec(iface, map[string]executor.Handler{"who": h}))     // without WithSpecs
	is.NoErr(plain.Register("test.free:1.0", map[string]executor.Handler{"x": h})) // unchecked, as before
}

// A call addressed to a base interface is served by the derived
// implementation, under the derived definition.
func TestSpecInherit(t *testing.T) {
	is := is.New(t)
	set := spec.New(spec.WithRole(spec.Executor),
		spec.JSON([]byte(`{"iface": "test.base", "version": "1.2", "requires": ["AllowAnonymous"],
			"funcs": {"who": {"params": {"a": {"type": "integer"}}, "result": {"f": {"type": "string"}}}}}`)),
		spec.JSON([]byte(`{"iface": "test.derived", "version": "2.0", "inherit": "test.base:1.2",
			"requires": ["AllowAnonymous"], "funcs": {"extra": {"result": {"f": {"type": "string"}}}}}`)))
	ex := executor.New(executor.WithSpecs(set))
	f := func(_ context.Context, req *executor.Request) (any, error) {
		return map[string]any{"f": req.Iface + ":" + req.Version + ":" + req.Func}, nil
	}
	is.NoErr(ex.Register("test.derived:2.0", map[string]executor.Handler{"who": f, "extra": f}))
	srv := listen(t, ex)

	r := post(t, srv.HTTPURL(), `{"f":"test.base:1.1:who","p":{"a":1},"forcersp":true}`)
	is.Equal(r.Msg["r"], map[string]any{"f": "test.base:1.1:who"}) // served through the base
	r = post(t, srv.HTTPURL(), `{"f":"test.base:1.2:who","p":{"a":"x"},"forcersp":true}`)
	is.Equal(r.Msg["e"], "InvalidRequest") // checked
	r = post(t, srv.HTTPURL(), `{"f":"test.base:1.3:who","p":{"a":1},"forcersp":true}`)
	is.Equal(r.Msg["e"], "NotSupportedVersion") // the base's own minor is the limit
	r = post(t, srv.HTTPURL(), `{"f":"test.derived:2.0:who","p":{"a":1},"forcersp":true}`)
	is.Equal(r.Msg["r"], map[string]any{"f": "test.derived:2.0:who"})

	err := ex.Register("test.base:1.2", map[string]executor.Handler{"who": f})
	is.True(err != nil && strings.Contains(err.Error(), "test.derived:2.0")) // one derived per base
}

// "obf" names the caller of an "-internal" request; from anyone else it is
// ignored.
func TestSpecOnBehalfOf(t *testing.T) {
	f := newFixture(t)
	is := is.New(t)
	obf := func(m msg, o map[string]any) answer {
		var rsp pipeline.Response
		req := m.request(t, "")
		req.Obf = o
		f.ex.ServeInternal(context.Background(), req, &rsp)
		if rsp.E != "" {
			return answer{E: string(rsp.E), EDesc: rsp.EDesc}
		}
		return answer{R: rsp.R}
	}
	internal := msg{f: chk + "who", sec: executor.InternalUser}
	a := obf(internal, map[string]any{"lid": "bob", "slvl": "SafeOps"})
	is.Equal(a.R.(map[string]any)["user"], "bob") // on behalf of bob
	is.Equal(a.R.(map[string]any)["lvl"], "SafeOps")
	a = obf(msg{f: chk + "priv", sec: executor.InternalUser}, map[string]any{"lid": "bob", "slvl": "SafeOps"})
	is.Equal(a.E, "PleaseReauth") // bob's level, not System
	a = obf(msg{f: chk + "safe", sec: executor.InternalUser}, map[string]any{"lid": "bob", "slvl": "Root"})
	is.Equal(a.E, "PleaseReauth") // an unknown level is Anonymous
	a = obf(msg{f: "test.auth:1.0:who", sec: executor.InternalUser}, map[string]any{"slvl": "Anonymous"})
	is.Equal(a.E, "SecurityError") // an anonymous original caller stays anonymous
	a = obf(msg{f: chk + "who", sec: "alice:pw:with:colons"}, map[string]any{"lid": "bob", "slvl": "System"})
	is.Equal(a.R.(map[string]any)["user"], "alice") // obf from a non-System caller is ignored
	is.Equal(a.R.(map[string]any)["lvl"], "SafeOps")
}

// A heavy function runs with the heavy timeout, the others with the
// request timeout.
func TestSpecHeavy(t *testing.T) {
	is := is.New(t)
	set := spec.New(spec.WithRole(spec.Executor), spec.JSON([]byte(`{"iface": "test.heavy", "version": "1.0",
		"ftn3rev": "1.1", "requires": ["AllowAnonymous"], "funcs": {
			"slow": {"heavy": true, "result": {"ok": {"type": "boolean"}}},
			"quick": {"result": {"ok": {"type": "boolean"}}}}}`)))
	ex := executor.New(executor.WithSpecs(set), executor.WithRequestTimeout(20*time.Millisecond),
		executor.WithHeavyRequestTimeout(time.Minute))
	// Both wait for their context or 300 ms, far over the request timeout.
	wait := func(ctx context.Context, _ *executor.Request) (any, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
			return map[string]any{"ok": true}, nil
		}
	}
	is.NoErr(ex.Register("test.heavy:1.0", map[string]executor.Handler{"slow": wait, "quick": wait}))
	srv := listen(t, ex)
	r := post(t, srv.HTTPURL(), `{"f":"test.heavy:1.0:quick","p":{}}`)
	is.Equal(r.Msg["edesc"], "request timed out") // the request timeout
	r = post(t, srv.HTTPURL(), `{"f":"test.heavy:1.0:slow","p":{}}`)
	is.Equal(r.Msg["r"], map[string]any{"ok": true}) // not cut: heavy
}
