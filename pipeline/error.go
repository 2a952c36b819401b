package pipeline

import (
	"context"
	"errors"
	"fmt"
)

// ErrorName is a FutoIn error name, the value of the "e" field of a
// response. It is a string type rather than a closed enum because every
// interface may declare its own names in "throws".
type ErrorName string

// The standard FutoIn error names (FTN3 §1.9.1), spelled exactly as on the
// wire. Which side may raise each is listed in spec/WIRE.md §8.2.
const (
	// ConnectError: the connection could not be made; nothing was sent.
	ConnectError ErrorName = "ConnectError"
	// CommError: the request was (or may have been) sent, but no response
	// arrived: the connection was lost or the peer closed it.
	CommError ErrorName = "CommError"
	// UnknownInterface: the Executor does not know the interface.
	UnknownInterface ErrorName = "UnknownInterface"
	// NotImplemented: the Executor does not implement the function.
	NotImplemented ErrorName = "NotImplemented"
	// NotSupportedVersion: the Executor lacks the requested version.
	NotSupportedVersion ErrorName = "NotSupportedVersion"
	// Unauthorized: the security policy denies access.
	Unauthorized ErrorName = "Unauthorized"
	// InternalError: an unexpected failure inside the Executor.
	InternalError ErrorName = "InternalError"
	// InvokerError: an unexpected failure on the Invoker side that is not
	// caused by communication (a bad registration, a bug, a misuse).
	InvokerError ErrorName = "InvokerError"
	// InvalidRequest: the Executor found bad data in the request.
	InvalidRequest ErrorName = "InvalidRequest"
	// DefenseRejected: a defense system or a full queue rejected the call.
	DefenseRejected ErrorName = "DefenseRejected"
	// PleaseReauth: re-authentication is needed; on a seclvl mismatch the
	// first word of the description is the level required.
	PleaseReauth ErrorName = "PleaseReauth"
	// SecurityError: invalid "sec" data, or an insecure channel where a
	// secure one is required.
	SecurityError ErrorName = "SecurityError"
	// Timeout: a deadline passed. It never travels in messages.
	Timeout ErrorName = "Timeout"
)

// StandardNames lists every standard name above, in spec order.
var StandardNames = []ErrorName{
	ConnectError, CommError, UnknownInterface, NotImplemented,
	NotSupportedVersion, Unauthorized, InternalError, InvokerError,
	InvalidRequest, DefenseRejected, PleaseReauth, SecurityError, Timeout,
}

// Error is the one error type of ftnpipe: a FutoIn error name, its
// description ("edesc" on the wire), whether the peer sent it, and an
// optional cause. Every error returned by a call can be read with
// errors.As(err, &*Error) or with [NameOf].
//
// errors.Is(err, target) holds when target is an *Error with the same Name
// (the sentinels such as [ErrTimeout] exist for that), or when the cause
// matches target, so errors.Is(err, context.Canceled) works too.
type Error struct {
	Name   ErrorName
	Desc   string
	Remote bool // true when the Executor sent it in a response
	cause  error
}

// NewError returns an *Error with the given name and description.
func NewError(name ErrorName, desc string) *Error {
	return &Error{Name: name, Desc: desc}
}

// Errorf returns an *Error with a formatted description. A %w verb keeps
// its operand as the cause, reachable through errors.Is and errors.As.
func Errorf(name ErrorName, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Name: name, Desc: err.Error()}
	if errors.Unwrap(err) != nil {
		e.cause = err
	}
	return e
}

// RemoteError returns the *Error a peer sent as "e" and "edesc".
func RemoteError(name ErrorName, desc string) *Error {
	return &Error{Name: name, Desc: desc, Remote: true}
}

// Error formats the error as "Name: desc", or "Name" without a description.
func (e *Error) Error() string {
	if e.Desc == "" {
		return string(e.Name)
	}
	return string(e.Name) + ": " + e.Desc
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name
}

// WithCause returns a copy of e with cause as its cause.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// Sentinels for errors.Is, one per standard name.
var (
	ErrConnectError        = &Error{Name: ConnectError}
	ErrCommError           = &Error{Name: CommError}
	ErrUnknownInterface    = &Error{Name: UnknownInterface}
	ErrNotImplemented      = &Error{Name: NotImplemented}
	ErrNotSupportedVersion = &Error{Name: NotSupportedVersion}
	ErrUnauthorized        = &Error{Name: Unauthorized}
	ErrInternalError       = &Error{Name: InternalError}
	ErrInvokerError        = &Error{Name: InvokerError}
	ErrInvalidRequest      = &Error{Name: InvalidRequest}
	ErrDefenseRejected     = &Error{Name: DefenseRejected}
	ErrPleaseReauth        = &Error{Name: PleaseReauth}
	ErrSecurityError       = &Error{Name: SecurityError}
	ErrTimeout             = &Error{Name: Timeout}
)

// NameOf returns the FutoIn name of err: the Name of an *Error in its
// chain, Timeout for the context errors (mapped by [AsError]),
// InvokerError for any other non-nil error, and "" for nil.
func NameOf(err error) ErrorName {
	if err == nil {
		return ""
	}
	return AsError(err, InvokerError).Name
}

// IsRemote reports whether err is an *Error the Executor sent.
func IsRemote(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Remote
}

// AsError converts any error into an *Error. It is the one place where
// context errors are mapped: context.DeadlineExceeded becomes Timeout,
// context.Canceled becomes Timeout too (the call was abandoned) while
// staying reachable as the cause, so errors.Is(err, context.Canceled)
// holds. Foreign errors become fallback with the error as the cause.
func AsError(err error, fallback ErrorName) *Error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Name: Timeout, Desc: "deadline exceeded", cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Name: Timeout, Desc: "call cancelled", cause: err}
	}
	return &Error{Name: fallback, Desc: err.Error(), cause: err}
}
