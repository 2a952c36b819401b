package sink

import (
	"strconv"

	"github.com/ftnpipe/ccm/pipeline"
)

// checkedHTTP completes a checked call (pipeline.Call.Check set, the
// AdvancedCCM's) from an HTTP reply that is not a FutoIn message, and
// reports whether it did; otherwise the reply takes the usual way.
//
//   - A one-way call (pipeline.Call.OneWay) completes with no result on an
//     empty 2xx body: the reference executor ends the exchange so for a
//     function without result (HTTP.md §4.2).
//   - Raw data (a non-empty body of a non-FutoIn type) is the answer of a
//     "rawresult" function: the call completes with a copy of the bytes.
//     For any other function it is an InternalError, "Raw result is not
//     expected: f()" (the reference's message, REFERENCE-JS §6.4).
//
// body holds at most maxResponse+1 bytes; an oversized body is left to the
// usual size check.
func checkedHTTP(c *pipeline.Call, ct string, body []byte, maxResponse int64) bool {
	if c.OneWay && len(body) == 0 {
		c.Complete(nil, nil)
		return true
	}
	if IsFutoInType(ct) || len(body) == 0 || int64(len(body)) > maxResponse {
		return false
	}
	if err := c.Check.CheckRaw(true); err != nil {
		c.Complete(nil, err)
		return true
	}
	if max := c.Check.MaxRspSize(); max > 0 && int64(len(body)) > max {
		c.Complete(nil, pipeline.NewError(pipeline.CommError, "raw result of "+c.Req.F+" exceeds its maxrspsize: "+
			strconv.Itoa(len(body))+" > "+strconv.FormatInt(max, 10)+" bytes"))
		return true
	}
	if c.OneWay {
		c.Complete(nil, nil)
		return true
	}
	c.Complete(append([]byte(nil), body...), nil)
	return true
}

// serveChecked completes a checked in-process call from its response,
// as [InProc] does for others: the result is brought into the decoded
// shapes, then judged by c.Check (nothing was encoded, so there is no
// size to check), then, for a typed target, converted into c.Out. A
// one-way call completes when the handler returned: its context is the
// call's, so completing earlier would cancel it.
func serveChecked(c *pipeline.Call) {
	rsp := &c.Rsp
	var r any
	if rsp.E == "" && !c.OneWay {
		var err error
		if r, err = copyValue(rsp.R); err != nil {
			c.Complete(nil, pipeline.RemoteError(pipeline.InternalError, "result could not be encoded"))
			return
		}
	}
	res, err := pipeline.CheckAnswer(c, rsp.E, rsp.EDesc, r, 0)
	if err == nil && c.Out != nil && !c.OneWay {
		// Into the caller's target only if this completion wins.
		c.CompleteWith(func() (any, error) {
			if err := intoOut(c, r); err != nil {
				return nil, err
			}
			return c.Out, nil
		})
		return
	}
	if err != nil {
		res = nil
	}
	c.Complete(res, err)
}
