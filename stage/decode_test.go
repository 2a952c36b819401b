package stage_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

// received returns a call whose envelope was decoded from frame.
func received(t *testing.T, d *stage.Decoder, frame string) *pipeline.Call {
	t.Helper()
	c := pipeline.NewCall(context.Background(), fn, nil)
	if err := d.Envelope([]byte(frame), &c.Rsp); err != nil {
		t.Fatalf("Envelope(%s): %v", frame, err)
	}
	return c
}

type sumOut struct {
	Sum  int      `json:"sum"`
	Tags []string `json:"tags"`
}

func TestDecoderEnvelope(t *testing.T) {
	is := is.New(t)
	d := stage.NewDecoder(codec.JSON)
	var rsp pipeline.Response
	is.NoErr(d.Envelope([]byte(`{"r":{"sum":3},"rid":"C4"}`), &rsp))
	is.Equal(rsp.Rid, "C4")
	is.True(rsp.HasR)
	is.True(d.Envelope([]byte(`{"rid":"C4"}`), &rsp) != nil)
	is.True(d.Envelope([]byte(`[1]`), &rsp) != nil)
}

func TestDecoderFinish(t *testing.T) {
	d := stage.NewDecoder(codec.JSON)
	t.Run("remote error", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"e":"InvalidRequest","edesc":"Missing parameter b","rid":"C1"}`)
		d.Finish(c)
		_, err := c.Result()
		var fe *pipeline.Error
		is.True(errors.As(err, &fe))
		is.Equal(fe.Name, pipeline.InvalidRequest)
		is.Equal(fe.Desc, "Missing parameter b")
		is.True(fe.Remote) // sent by the Executor
		is.True(pipeline.IsRemote(err))
	})
	t.Run("declared error", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"e":"NotEnoughMoney"}`) // an iface's own name
		d.Finish(c)
		_, err := c.Result()
		is.Equal(pipeline.NameOf(err), pipeline.ErrorName("NotEnoughMoney"))
		is.Equal(err.Error(), "NotEnoughMoney")
	})
	t.Run("generic result", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":{"sum":3,"list":[1,"x",null,true]}}`)
		d.Finish(c)
		res, err := c.Result()
		is.NoErr(err)
		is.Equal(res, any(map[string]any{"sum": 3.0, "list": []any{1.0, "x", nil, true}}))
	})
	t.Run("null result", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":null}`)
		d.Finish(c)
		res, err := c.Result()
		is.NoErr(err)
		is.Equal(res, nil)
	})
	t.Run("Out struct", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":{"sum":3,"tags":["a","b"]}}`)
		out := &sumOut{}
		c.Out = out
		d.Finish(c)
		res, err := c.Result()
		is.NoErr(err)
		is.True(res == any(out)) // the caller's target
		is.Equal(*out, sumOut{Sum: 3, Tags: []string{"a", "b"}})
	})
	t.Run("Out scalar", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":42}`)
		var n int
		c.Out = &n
		d.Finish(c)
		_, err := c.Result()
		is.NoErr(err)
		is.Equal(n, 42)
	})
	t.Run("wrong shape", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":"not an object"}`)
		c.Out = &sumOut{}
		d.Finish(c)
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrInvokerError))
		is.True(strings.Contains(err.Error(), "sumOut")) // names the target type
		is.True(strings.Contains(err.Error(), fn))       // and the function
		is.True(!pipeline.IsRemote(err))
	})
	t.Run("error with Out", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"e":"Unauthorized"}`)
		c.Out = &sumOut{}
		d.Finish(c)
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrUnauthorized))
	})
	t.Run("already completed", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":1}`)
		c.Complete(nil, pipeline.NewError(pipeline.Timeout, ""))
		d.Finish(c) // a late reply loses
		_, err := c.Result()
		is.True(errors.Is(err, pipeline.ErrTimeout))
	})
}

// verifierFunc adapts a function to stage.Verifier.
type verifierFunc func(c *pipeline.Call) error

func (f verifierFunc) Verify(c *pipeline.Call) error { return f(c) }

func TestDecoderVerify(t *testing.T) {
	bad := pipeline.NewError(pipeline.SecurityError, "bad signature")
	var seen []pipeline.Response
	d := stage.NewVerifyingDecoder(codec.JSON, verifierFunc(func(c *pipeline.Call) error {
		seen = append(seen, c.Rsp)
		if c.Rsp.Sec != "good" {
			return bad
		}
		return nil
	}))
	t.Run("accepted", func(t *testing.T) {
		is := is.New(t)
		seen = nil
		c := received(t, d, `{"r":{"a":[1]},"sec":"good"}`)
		d.Finish(c)
		res, err := c.Result()
		is.NoErr(err)
		is.Equal(res, any(map[string]any{"a": []any{1.0}}))
		is.Equal(len(seen), 1)
		is.True(seen[0].RDecoded)                                 // the verifier saw the decoded tree
		is.Equal(seen[0].R, any(map[string]any{"a": []any{1.0}})) // in R
	})
	t.Run("rejected", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":{"a":1},"sec":"forged"}`)
		d.Finish(c)
		_, err := c.Result()
		is.True(err == bad) // the verifier's error, not the result
	})
	t.Run("error responses are verified too", func(t *testing.T) {
		is := is.New(t)
		seen = nil
		c := received(t, d, `{"e":"InvalidRequest","sec":"forged"}`)
		d.Finish(c)
		_, err := c.Result()
		is.True(err == bad)
		is.Equal(len(seen), 1)
	})
	t.Run("Out with verifier", func(t *testing.T) {
		is := is.New(t)
		c := received(t, d, `{"r":{"sum":5},"sec":"good"}`)
		out := &sumOut{}
		c.Out = out
		d.Finish(c)
		_, err := c.Result()
		is.NoErr(err)
		is.Equal(out.Sum, 5)
	})
}
