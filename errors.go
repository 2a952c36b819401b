package ccm

import "github.com/ftnpipe/ccm/pipeline"

// Error is the error type of every failed call and registration: a FutoIn
// error name, its description, and whether the peer sent it. Use
// errors.As(err, &e) with e of type *Error, [NameOf], or errors.Is with the
// sentinels below.
type Error = pipeline.Error

// ErrorName is a FutoIn error name. Interfaces may declare their own.
type ErrorName = pipeline.ErrorName

// The standard FutoIn error names (spec WIRE.md §8.2).
const (
	ConnectError        = pipeline.ConnectError
	CommError           = pipeline.CommError
	UnknownInterface    = pipeline.UnknownInterface
	NotImplemented      = pipeline.NotImplemented
	NotSupportedVersion = pipeline.NotSupportedVersion
	Unauthorized        = pipeline.Unauthorized
	InternalError       = pipeline.InternalError
	InvokerError        = pipeline.InvokerError
	InvalidRequest      = pipeline.InvalidRequest
	DefenseRejected     = pipeline.DefenseRejected
	PleaseReauth        = pipeline.PleaseReauth
	SecurityError       = pipeline.SecurityError
	Timeout             = pipeline.Timeout
)

// Sentinels for errors.Is: errors.Is(err, ccm.ErrTimeout) holds for any
// *Error named Timeout.
var (
	ErrConnectError        = pipeline.ErrConnectError
	ErrCommError           = pipeline.ErrCommError
	ErrUnknownInterface    = pipeline.ErrUnknownInterface
	ErrNotImplemented      = pipeline.ErrNotImplemented
	ErrNotSupportedVersion = pipeline.ErrNotSupportedVersion
	ErrUnauthorized        = pipeline.ErrUnauthorized
	ErrInternalError       = pipeline.ErrInternalError
	ErrInvokerError        = pipeline.ErrInvokerError
	ErrInvalidRequest      = pipeline.ErrInvalidRequest
	ErrDefenseRejected     = pipeline.ErrDefenseRejected
	ErrPleaseReauth        = pipeline.ErrPleaseReauth
	ErrSecurityError       = pipeline.ErrSecurityError
	ErrTimeout             = pipeline.ErrTimeout
)

// NewError returns an *Error with the given name and description.
func NewError(name ErrorName, desc string) *Error { return pipeline.NewError(name, desc) }

// NameOf returns the FutoIn name of err ("" for nil, InvokerError for an
// error that is not an *Error).
func NameOf(err error) ErrorName { return pipeline.NameOf(err) }

// IsRemote reports whether err was sent by the peer.
func IsRemote(err error) bool { return pipeline.IsRemote(err) }
