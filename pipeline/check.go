package pipeline

import "strconv"

// Checker judges a peer's answer to one function against that function's
// definition (the AdvancedCCM's checks after arrival, spec INVOKER.md
// §8.1 step 7). The spec package's *spec.Func implements it; it is
// declared here so that the stages and sinks that finish calls need not
// import spec (DESIGN.md §3). Implementations are immutable and safe for
// concurrent use; CheckResult may modify the result it is given (it
// deletes result variables nobody declared), which belongs to the call.
type Checker interface {
	// CheckResult checks a decoded result "r"; a failure is the error to
	// complete the call with (InternalError).
	CheckResult(r any) error
	// CheckError maps an error name the peer sent: the peer's error when
	// the function may raise it, an InternalError otherwise. It never
	// returns nil for a name.
	CheckError(name ErrorName, desc string) error
	// CheckRaw checks the kind of a successful answer: raw data (raw
	// true) or a FutoIn message.
	CheckRaw(raw bool) error
	// MaxRspSize is the largest response message accepted, in bytes.
	MaxRspSize() int64
}

// CheckAnswer returns the outcome to complete c with, given a peer's
// answer checked by c.Check (which must be set): the error name and
// description when name is not empty, otherwise the decoded result r of a
// message of size bytes (0: unknown, not checked). A one-way call
// ([Call.OneWay]) that gets an answer anyway completes with a nil result
// or the checked error. It allocates only for a failure.
func CheckAnswer(c *Call, name ErrorName, desc string, r any, size int) (any, error) {
	if max := c.Check.MaxRspSize(); max > 0 && int64(size) > max {
		return nil, NewError(CommError, "response of "+c.Req.F+" exceeds its maxrspsize: "+
			strconv.Itoa(size)+" > "+strconv.FormatInt(max, 10)+" bytes")
	}
	if name != "" {
		return nil, c.Check.CheckError(name, desc)
	}
	if c.OneWay {
		return nil, nil
	}
	if err := c.Check.CheckResult(r); err != nil {
		return nil, err
	}
	return r, nil
}
