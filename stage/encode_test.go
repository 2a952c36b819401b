package stage_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

func TestEncode(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), fn, map[string]any{"a": 1, "b": 2})
	c.Req.Rid = "C7"
	is.NoErr(stage.Encode(codec.JSON, stage.DefaultMaxMessageSize)(c))
	var m map[string]any
	is.NoErr(json.Unmarshal(c.Frame, &m))
	is.Equal(m["f"], fn)
	is.Equal(m["rid"], "C7")
	is.Equal(m["p"], map[string]any{"a": 1.0, "b": 2.0})
}

func TestEncodeReusesFrame(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), fn, nil)
	c.Req.Rid = "C1"
	enc := stage.Encode(codec.JSON, stage.DefaultMaxMessageSize)
	is.NoErr(enc(c))
	first := &c.Frame[0]
	c.Req.Rid = "C2" // a retry
	is.NoErr(enc(c))
	is.True(&c.Frame[0] == first) // same memory
	is.True(strings.Contains(string(c.Frame), `"rid":"C2"`))
}

func TestEncodeLimit(t *testing.T) {
	is := is.New(t)
	enc := func(max int, p map[string]any) (*pipeline.Call, error) {
		c := pipeline.NewCall(context.Background(), fn, p)
		return c, stage.Encode(codec.JSON, max)(c)
	}
	c, err := enc(1<<20, map[string]any{"s": "xxxx"})
	is.NoErr(err)
	size := len(c.Frame)

	c, err = enc(size, map[string]any{"s": "xxxx"})
	is.NoErr(err) // exactly at the limit is fine
	is.Equal(len(c.Frame), size)

	c, err = enc(size-1, map[string]any{"s": "xxxx"})
	is.True(errors.Is(err, pipeline.ErrInvokerError)) // one byte over
	is.True(strings.Contains(err.Error(), "too long"))
	is.Equal(len(c.Frame), 0) // no frame to send
	is.True(!c.IsDone())      // the pipeline fails the call, not the transform

	_, err = enc(stage.DefaultMaxMessageSize, map[string]any{"s": strings.Repeat("x", stage.DefaultMaxMessageSize)})
	is.True(errors.Is(err, pipeline.ErrInvokerError)) // the 64 KiB default
}

func TestEncodeBadValue(t *testing.T) {
	for name, p := range map[string]map[string]any{
		"NaN":    {"x": math.NaN()},
		"binary": {"x": []byte("raw")},
		"chan":   {"x": make(chan int)},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			c := pipeline.NewCall(context.Background(), fn, p)
			err := stage.Encode(codec.JSON, stage.DefaultMaxMessageSize)(c)
			is.True(errors.Is(err, pipeline.ErrInvokerError))
			is.True(strings.Contains(err.Error(), fn)) // names the function
			is.Equal(len(c.Frame), 0)
			is.True(!c.IsDone())
		})
	}
}
