package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/examples/typedcalc/calcapi"
)

// The raw data functions go through the generated client and server over
// real HTTP (the WebSocket endpoint's raw calls use its http:// form).

func TestRawUploadTypedResult(t *testing.T) {
	is := is.New(t)
	c := calcapi.NewCalcClient(setup(t, service{}))
	ctx := context.Background()

	r, err := c.Sum(ctx, nil, strings.NewReader("1.004 2 3.5\n"))
	is.NoErr(err)
	is.Equal(r, calcapi.CalcSumResult{Total: 6.5, Count: 3}) // default digits 2

	// digits travels in the URL query as "0"; the generated registration
	// decodes it to an integer before the spec check.
	zero := 0
	r, err = c.Sum(ctx, &zero, strings.NewReader("1.4 2.4"))
	is.NoErr(err)
	is.Equal(r, calcapi.CalcSumResult{Total: 4, Count: 2})

	// A nil body uploads nothing.
	r, err = c.Sum(ctx, nil, nil)
	is.NoErr(err)
	is.Equal(r, calcapi.CalcSumResult{})
}

func TestRawUploadDeclaredError(t *testing.T) {
	is := is.New(t)
	c := calcapi.NewCalcClient(setup(t, service{}))
	_, err := c.Sum(context.Background(), nil, strings.NewReader("1 two 3"))
	is.True(errors.Is(err, calcapi.ErrCalcNotANumber))
	is.Equal(ccm.NameOf(err), calcapi.CalcNotANumber)
}

func TestRawUploadBadParam(t *testing.T) {
	is := is.New(t)
	i := setup(t, service{})
	// A URL-mapped value that is not an integer stays a string and the
	// spec check refuses it before the service runs.
	_, err := i.Upload(context.Background(), "sum", map[string]any{"digits": "two"}, strings.NewReader("1"))
	is.Equal(ccm.NameOf(err), ccm.InvalidRequest)
}

func TestRawUploadDownload(t *testing.T) {
	is := is.New(t)
	c := calcapi.NewCalcClient(setup(t, service{}))
	rc, err := c.Scale(context.Background(), 2.5, strings.NewReader("1 2 -4"))
	is.NoErr(err)
	b, err := io.ReadAll(rc)
	is.NoErr(rc.Close())
	is.NoErr(err)
	is.Equal(string(b), "2.5\n5\n-10\n")
}

func TestRawDownloadDeclaredError(t *testing.T) {
	is := is.New(t)
	c := calcapi.NewCalcClient(setup(t, service{}))
	rc, err := c.Scale(context.Background(), 2, strings.NewReader("1 x"))
	is.Equal(rc, nil)
	is.True(errors.Is(err, calcapi.ErrCalcNotANumber))
}
