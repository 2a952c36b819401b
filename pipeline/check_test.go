package pipeline_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
)

// fakeChecker accepts results equal to "ok" and the error name "Declared".
type fakeChecker struct{}

func (fakeChecker) CheckResult(r any) error {
	if r != "ok" {
		return pipeline.NewError(pipeline.InternalError, "bad result")
	}
	return nil
}

func (fakeChecker) CheckError(name pipeline.ErrorName, desc string) error {
	if name == "Declared" {
		return pipeline.RemoteError(name, desc)
	}
	return pipeline.NewError(pipeline.InternalError, "undeclared "+string(name))
}

func (fakeChecker) CheckRaw(bool) error { return nil }
func (fakeChecker) MaxRspSize() int64   { return 100 }

func TestCheckAnswer(t *testing.T) {
	is := is.New(t)
	c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
	c.Check = fakeChecker{}

	res, err := pipeline.CheckAnswer(c, "", "", "ok", 10)
	is.NoErr(err)
	is.Equal(res, "ok")
	res, err = pipeline.CheckAnswer(c, "", "", "nope", 10)
	is.Equal(pipeline.NameOf(err), pipeline.InternalError)
	is.Equal(res, nil)

	_, err = pipeline.CheckAnswer(c, "Declared", "d", nil, 10)
	var fe *pipeline.Error
	is.True(errors.As(err, &fe))
	is.Equal(fe.Name, pipeline.ErrorName("Declared"))
	is.True(fe.Remote)
	_, err = pipeline.CheckAnswer(c, "Other", "d", nil, 10)
	is.Equal(pipeline.NameOf(err), pipeline.InternalError)

	_, err = pipeline.CheckAnswer(c, "", "", "ok", 101) // over MaxRspSize
	is.Equal(pipeline.NameOf(err), pipeline.CommError)

	c.OneWay = true // an answer to a one-way call: no result, errors still mapped
	res, err = pipeline.CheckAnswer(c, "", "", "nope", 10)
	is.NoErr(err)
	is.Equal(res, nil)
	_, err = pipeline.CheckAnswer(c, "Other", "", nil, 10)
	is.Equal(pipeline.NameOf(err), pipeline.InternalError)
}
