package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/matryer/is"
)

// sentinels pairs every standard name with its errors.Is sentinel, in the
// order of pipeline.StandardNames.
var sentinels = []struct {
	name     pipeline.ErrorName
	spelling string // exactly as in the spec (FTN3 §1.9.1)
	sentinel *pipeline.Error
}{
	{pipeline.ConnectError, "ConnectError", pipeline.ErrConnectError},
	{pipeline.CommError, "CommError", pipeline.ErrCommError},
	{pipeline.UnknownInterface, "UnknownInterface", pipeline.ErrUnknownInterface},
	{pipeline.NotImplemented, "NotImplemented", pipeline.ErrNotImplemented},
	{pipeline.NotSupportedVersion, "NotSupportedVersion", pipeline.ErrNotSupportedVersion},
	{pipeline.Unauthorized, "Unauthorized", pipeline.ErrUnauthorized},
	{pipeline.InternalError, "InternalError", pipeline.ErrInternalError},
	{pipeline.InvokerError, "InvokerError", pipeline.ErrInvokerError},
	{pipeline.InvalidRequest, "InvalidRequest", pipeline.ErrInvalidRequest},
	{pipeline.DefenseRejected, "DefenseRejected", pipeline.ErrDefenseRejected},
	{pipeline.PleaseReauth, "PleaseReauth", pipeline.ErrPleaseReauth},
	{pipeline.SecurityError, "SecurityError", pipeline.ErrSecurityError},
	{pipeline.Timeout, "Timeout", pipeline.ErrTimeout},
}

func TestErrorFormat(t *testing.T) {
	is := is.New(t)
	is.Equal(pipeline.NewError(pipeline.CommError, "connection reset").Error(), "CommError: connection reset")
	is.Equal(pipeline.NewError(pipeline.Timeout, "").Error(), "Timeout")                         // no ": " without a description
	is.Equal(pipeline.RemoteError("NotFound", "no such user").Error(), "NotFound: no such user") // iface-declared names work too
	is.Equal(pipeline.Errorf(pipeline.InvokerError, "bad %s #%d", "thing", 7).Error(), "InvokerError: bad thing #7")
	is.Equal(pipeline.ErrTimeout.Error(), "Timeout")
}

func TestStandardNames(t *testing.T) {
	is := is.New(t)
	is.Equal(len(pipeline.StandardNames), len(sentinels)) // every standard name is listed once
	seen := map[pipeline.ErrorName]bool{}
	for i, n := range pipeline.StandardNames {
		is.True(!seen[n]) // no duplicates
		seen[n] = true
		is.Equal(n, sentinels[i].name) // spec order
	}
	for _, tc := range sentinels {
		t.Run(tc.spelling, func(t *testing.T) {
			is := is.New(t)
			is.Equal(string(tc.name), tc.spelling)             // spelled as in the spec
			is.Equal(pipeline.ErrorName(tc.spelling), tc.name) // string -> name -> string
			is.Equal(tc.sentinel.Name, tc.name)

			err := pipeline.NewError(tc.name, "d")
			is.Equal(pipeline.NameOf(err), tc.name)
			is.Equal(err.Error(), tc.spelling+": d")
			is.True(errors.Is(err, tc.sentinel))
			is.True(!pipeline.IsRemote(err))

			remote := pipeline.RemoteError(pipeline.ErrorName(tc.spelling), "d")
			is.Equal(pipeline.NameOf(remote), tc.name)
			is.True(pipeline.IsRemote(remote))
			is.True(errors.Is(remote, tc.sentinel))

			wrapped := fmt.Errorf("layer: %w", err)
			is.Equal(pipeline.NameOf(wrapped), tc.name)
			is.True(errors.Is(wrapped, tc.sentinel))

			for _, other := range sentinels {
				if other.name != tc.name {
					is.True(!errors.Is(err, other.sentinel)) // Is compares names
				}
			}
		})
	}
}

func TestErrorIsAs(t *testing.T) {
	is := is.New(t)
	err := fmt.Errorf("calling: %w", pipeline.NewError(pipeline.Timeout, "no response within 1s"))
	is.True(errors.Is(err, pipeline.ErrTimeout))
	is.True(!errors.Is(err, pipeline.ErrCommError))
	is.True(!errors.Is(err, io.EOF))

	var fe *pipeline.Error
	is.True(errors.As(err, &fe))
	is.Equal(fe.Name, pipeline.Timeout)
	is.Equal(fe.Desc, "no response within 1s")

	// Is only matches *Error targets by name.
	is.True(!pipeline.NewError(pipeline.Timeout, "").Is(context.DeadlineExceeded))
	is.True(pipeline.NewError(pipeline.Timeout, "x").Is(pipeline.NewError(pipeline.Timeout, "other desc")))
}

func TestErrorfCause(t *testing.T) {
	is := is.New(t)
	err := pipeline.Errorf(pipeline.CommError, "write frame: %w", io.ErrUnexpectedEOF)
	is.Equal(err.Name, pipeline.CommError)
	is.Equal(err.Desc, "write frame: unexpected EOF")
	is.True(errors.Is(err, io.ErrUnexpectedEOF)) // %w operand is the cause
	is.True(errors.Is(err, pipeline.ErrCommError))
	is.True(err.Unwrap() != nil)

	var pe *pipeline.Error
	inner := pipeline.Errorf(pipeline.InvokerError, "stage: %w", pipeline.NewError(pipeline.CommError, "lost"))
	is.True(errors.As(inner, &pe))
	is.Equal(pe.Name, pipeline.InvokerError)         // the outer error is found first
	is.True(errors.Is(inner, pipeline.ErrCommError)) // the inner one is still reachable

	plain := pipeline.Errorf(pipeline.InvokerError, "just %v", io.EOF)
	is.Equal(plain.Unwrap(), nil) // %v keeps no cause
	is.True(!errors.Is(plain, io.EOF))
}

func TestWithCause(t *testing.T) {
	is := is.New(t)
	orig := pipeline.NewError(pipeline.ConnectError, "dial")
	withCause := orig.WithCause(io.EOF)
	is.True(errors.Is(withCause, io.EOF))
	is.True(!errors.Is(orig, io.EOF)) // the original is not modified
	is.Equal(withCause.Name, orig.Name)
	is.Equal(withCause.Desc, orig.Desc)
	is.True(withCause != orig)
}

func TestNameOf(t *testing.T) {
	is := is.New(t)
	is.Equal(pipeline.NameOf(nil), pipeline.ErrorName(""))
	is.Equal(pipeline.NameOf(io.EOF), pipeline.InvokerError)                                               // foreign
	is.Equal(pipeline.NameOf(context.DeadlineExceeded), pipeline.Timeout)                                  // ctx deadline
	is.Equal(pipeline.NameOf(fmt.Errorf("op: %w", context.DeadlineExceeded)), pipeline.Timeout)            // wrapped ctx deadline
	is.Equal(pipeline.NameOf(pipeline.AsError(context.Canceled, pipeline.InvokerError)), pipeline.Timeout) // a cancelled call reads as Timeout
	is.Equal(pipeline.NameOf(pipeline.RemoteError("NotFound", "")), pipeline.ErrorName("NotFound"))
	is.Equal(pipeline.NameOf(fmt.Errorf("a: %w", fmt.Errorf("b: %w", pipeline.ErrUnauthorized))), pipeline.Unauthorized)
}

func TestIsRemote(t *testing.T) {
	is := is.New(t)
	is.True(pipeline.IsRemote(pipeline.RemoteError(pipeline.InvalidRequest, "bad")))
	is.True(pipeline.IsRemote(fmt.Errorf("call: %w", pipeline.RemoteError(pipeline.NotImplemented, ""))))
	is.True(!pipeline.IsRemote(pipeline.NewError(pipeline.InvalidRequest, "bad")))
	is.True(!pipeline.IsRemote(io.EOF))
	is.True(!pipeline.IsRemote(nil))
	is.True(pipeline.RemoteError(pipeline.InternalError, "x").Remote)
}

func TestAsError(t *testing.T) {
	t.Run("nil", func(t *testing.T) {
		is := is.New(t)
		is.True(pipeline.AsError(nil, pipeline.InvokerError) == nil)
	})
	t.Run("Error kept", func(t *testing.T) {
		is := is.New(t)
		e := pipeline.NewError(pipeline.CommError, "x")
		is.True(pipeline.AsError(e, pipeline.InvokerError) == e)
		is.True(pipeline.AsError(fmt.Errorf("w: %w", e), pipeline.InvokerError) == e) // found in the chain
	})
	t.Run("deadline", func(t *testing.T) {
		is := is.New(t)
		e := pipeline.AsError(context.DeadlineExceeded, pipeline.InvokerError)
		is.Equal(e.Name, pipeline.Timeout)
		is.True(errors.Is(e, pipeline.ErrTimeout))
		is.True(errors.Is(e, context.DeadlineExceeded)) // cause kept
	})
	t.Run("canceled", func(t *testing.T) {
		is := is.New(t)
		e := pipeline.AsError(fmt.Errorf("waiting: %w", context.Canceled), pipeline.ConnectError)
		is.Equal(e.Name, pipeline.Timeout)
		is.True(errors.Is(e, pipeline.ErrTimeout))
		is.True(errors.Is(e, context.Canceled)) // the cause stays reachable
		is.True(!errors.Is(e, context.DeadlineExceeded))
	})
	t.Run("foreign", func(t *testing.T) {
		is := is.New(t)
		e := pipeline.AsError(io.ErrClosedPipe, pipeline.ConnectError)
		is.Equal(e.Name, pipeline.ConnectError) // the fallback name
		is.Equal(e.Desc, io.ErrClosedPipe.Error())
		is.True(errors.Is(e, io.ErrClosedPipe))
		is.True(!e.Remote)
	})
}
