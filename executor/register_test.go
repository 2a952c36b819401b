package executor_test

import (
	"context"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
)

func TestRegister(t *testing.T) {
	ok := func(context.Context, *executor.Request) (any, error) { return nil, nil }
	fs := map[string]executor.Handler{"ping": ok}

	t.Run("bad", func(t *testing.T) {
		for _, tc := range []struct {
			ifacever string
			funcs    map[string]executor.Handler
		}{
			{"", fs},
			{"com.example", fs},               // no version
			{"com.example:1", fs},             // no minor
			{"com.example:1.", fs},            // empty minor
			{"com.example:a.1", fs},           // not a number
			{"com.example:1.2.3", fs},         // three parts
			{"com.example:-1.2", fs},          // sign
			{"example:1.0", fs},               // one token
			{"Com.example:1.0", fs},           // uppercase
			{"com..example:1.0", fs},          // empty token
			{"com.example:1.0:ping", fs},      // a function id, not an iface version
			{"com.example:99999999999.0", fs}, // too big
			{"com.example:1.0", map[string]executor.Handler{"Ping": ok}},
			{"com.example:1.0", map[string]executor.Handler{"pi-ng": ok}},
			{"com.example:1.0", map[string]executor.Handler{"ping": nil}},
		} {
			is := is.New(t)
			err := executor.New().Register(tc.ifacever, tc.funcs)
			is.True(err != nil) // want an error
		}
	})

	t.Run("duplicate major", func(t *testing.T) {
		is := is.New(t)
		ex := executor.New()
		is.NoErr(ex.Register("com.example:1.0", fs))
		is.True(ex.Register("com.example:1.3", fs) != nil) // same major twice
		is.NoErr(ex.Register("com.example:2.0", fs))       // another major is fine
		is.NoErr(ex.Register("com.other:1.0", fs))
		is.NoErr(ex.Register("com.empty:1.0", nil)) // no functions is allowed
	})

	t.Run("funcs copied", func(t *testing.T) {
		is := is.New(t)
		ex := executor.New()
		m := map[string]executor.Handler{"ping": ok}
		is.NoErr(ex.Register("com.example:1.0", m))
		delete(m, "ping")
		srv, err := ex.Listen("")
		is.NoErr(err)
		defer ex.Close()
		r := post(t, srv.HTTPURL(), `{"f":"com.example:1.0:ping","p":{}}`)
		is.Equal(r.Msg["r"], map[string]any{}) // still registered
	})
}

func TestRegisterWhileServing(t *testing.T) {
	is := is.New(t)
	_, srv := start(t)
	// Exercised over the wire by the other tests; here only check that a
	// later Register is seen by a running server.
	ex := executor.New()
	srv2, err := ex.Listen("")
	is.NoErr(err)
	defer srv2.Close()
	r := post(t, srv2.HTTPURL(), `{"f":"com.late:1.0:hi","p":{}}`)
	is.Equal(r.Msg["e"], "UnknownInterface")
	is.NoErr(ex.Register("com.late:1.0", map[string]executor.Handler{
		"hi": func(context.Context, *executor.Request) (any, error) { return "hi", nil },
	}))
	r = post(t, srv2.HTTPURL(), `{"f":"com.late:1.0:hi","p":{}}`)
	is.Equal(r.Msg["r"], "hi")
	_ = srv
}
