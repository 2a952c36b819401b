package stage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

const secret = "hunter2:with:colons"

func TestParsePassword(t *testing.T) {
	is := is.New(t)
	pw, err := stage.ParsePassword("alice:" + secret)
	is.NoErr(err)
	is.Equal(pw.User(), "alice") // split at the first ':'

	c := pipeline.NewCall(context.Background(), fn, nil)
	is.NoErr(stage.Sign(pw)(c))
	is.Equal(c.Req.Sec, "alice:"+secret) // sent verbatim, colons in the password kept

	empty, err := stage.ParsePassword("bob:")
	is.NoErr(err) // an empty password is a password
	is.NoErr(empty.Sign(c))
	is.Equal(c.Req.Sec, "bob:")
}

func TestParsePasswordRejects(t *testing.T) {
	for _, creds := range []string{
		"no-colon-hunter2", // no ':'
		":" + secret,       // empty user
		"-hmac:" + secret,  // reserved for MAC credentials
		"-internal:" + secret,
		"",
	} {
		t.Run(creds, func(t *testing.T) {
			is := is.New(t)
			pw, err := stage.ParsePassword(creds)
			is.True(errors.Is(err, pipeline.ErrInvokerError))
			is.True(!strings.Contains(err.Error(), "hunter2")) // the error never shows the secret
			is.True(!strings.Contains(fmt.Sprintf("%+v", err), "hunter2"))
			is.Equal(pw.User(), "")
		})
	}
}

// TestPasswordRedacted: the secret never appears in fmt or slog output.
func TestPasswordRedacted(t *testing.T) {
	pw, err := stage.ParsePassword("alice:" + secret)
	if err != nil {
		t.Fatal(err)
	}
	type exported struct {
		Name string
		PW   stage.Password
	}
	type unexported struct {
		name string
		pw   stage.Password
	}
	type pointer struct{ PW *stage.Password }

	check := func(t *testing.T, out string) {
		t.Helper()
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "alice") {
			t.Errorf("user name missing: %s", out)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		t.Run("fmt "+verb, func(t *testing.T) {
			check(t, fmt.Sprintf(verb, pw))
			check(t, fmt.Sprintf(verb, &pw))
			check(t, fmt.Sprintf(verb, exported{"x", pw}))
			check(t, fmt.Sprintf(verb, []stage.Password{pw}))
			check(t, fmt.Sprintf(verb, map[string]stage.Password{"k": pw}))
			check(t, fmt.Sprint(pw))
			check(t, fmt.Sprintln(pw))
		})
	}
	t.Run("fmt nested pointer", func(t *testing.T) {
		out := fmt.Sprintf("%+v", pointer{&pw})
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	})
	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			log := slog.New(h)
			log.Info("creds", "pw", pw)
			log.Info("creds", slog.Any("pw", pw), slog.Any("ptr", &pw))
			log.Info("creds", slog.Group("g", "pw", pw))
			log.With("pw", pw).Info("with")
			log.Info("creds", "cfg", exported{"x", pw})
		}
		check(t, buf.String())
	})
	// The doc promises that printing "a struct holding one" never shows
	// the secret; fmt cannot call methods on unexported fields, so it
	// prints the raw user and sec strings.
	t.Run("fmt unexported field", func(t *testing.T) {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			// Regression (fixed): sign.go:29-32 keeps the secret in a plain string field,
			// so fmt (and slog's TextHandler, which formats structs with
			// fmt) print it for a struct with an unexported Password field.
			// Keep it behind a pointer (fmt prints an address at depth > 0),
			// e.g. `sec *string`.
			out := fmt.Sprintf(verb, unexported{"x", pw})
			if strings.Contains(out, "hunter2") {
				t.Errorf("%s: secret leaked: %s", verb, out)
			}
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("creds", "cfg", unexported{"x", pw})
		if strings.Contains(buf.String(), "hunter2") {
			t.Errorf("slog: secret leaked: %s", buf.String())
		}
	})
}
