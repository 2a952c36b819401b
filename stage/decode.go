package stage

import (
	"fmt"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

// Decoder turns response frames into call outcomes. Both the multiplexed
// transports (through [Mux.Receive]) and HTTP use it, so a response means
// the same thing whatever carried it.
type Decoder struct {
	codec  pipeline.Codec
	verify Verifier
}

// Verifier checks a response before its outcome is taken (the MAC
// verification of signed calls). It sees c.Rsp with the result already
// decoded into c.Rsp.R (RDecoded set). A non-nil error fails the call with
// it instead of the response's result or error.
type Verifier interface {
	Verify(c *pipeline.Call) error
}

// NewDecoder returns a decoder for codec.
func NewDecoder(codec pipeline.Codec) *Decoder { return &Decoder{codec: codec} }

// NewVerifyingDecoder returns a decoder for codec that checks every
// response with verify first.
func NewVerifyingDecoder(codec pipeline.Codec, verify Verifier) *Decoder {
	return &Decoder{codec: codec, verify: verify}
}

// Envelope decodes the response envelope in frame into rsp, leaving the
// result undecoded: rsp.RawR points into frame, so frame must stay intact
// until Finish, which drops that reference.
//
// The frame's first bytes name its codec ([codec.Detect]), and a reply in
// another codec than the decoder's is read too: an executor that cannot
// read a binary codec answers with a JSON error (WIRE.md §10.1), and a
// peer may answer in whichever codec it likes. The result of such a reply
// is re-encoded into the decoder's codec (a rare, slower path), so that
// everything after the envelope sees one codec; a value the decoder's
// codec cannot carry ([]byte for JSON) fails the reply.
func (d *Decoder) Envelope(frame []byte, rsp *pipeline.Response) error {
	err := d.envelope(frame, rsp)
	rsp.Size = len(frame)
	return err
}

func (d *Decoder) envelope(frame []byte, rsp *pipeline.Response) error {
	cd, _ := codec.Detect(frame)
	if cd == d.codec || cd == nil {
		return d.codec.DecodeResponse(frame, rsp)
	}
	if err := cd.DecodeResponse(frame, rsp); err != nil || !rsp.HasR {
		return err
	}
	raw, err := transcode(cd, d.codec, rsp.RawR)
	if err != nil {
		*rsp = pipeline.Response{}
		return fmt.Errorf("a %s result in reply to a %s request: %w", cd.Name(), d.codec.Name(), err)
	}
	rsp.RawR = raw
	return nil
}

// transcode re-encodes a raw value of one codec in another.
func transcode(from, to pipeline.Codec, raw []byte) ([]byte, error) {
	var v any
	if err := from.DecodeValue(raw, &v); err != nil {
		return nil, err
	}
	b, err := to.AppendResponse(nil, &pipeline.Response{R: v})
	if err != nil {
		return nil, err
	}
	var out pipeline.Response
	if err := to.DecodeResponse(b, &out); err != nil {
		return nil, err
	}
	return out.RawR, nil
}

// Finish completes c from c.Rsp: an "e" becomes a remote *pipeline.Error
// with the peer's name and description; an "r" is decoded into c.Out when
// the caller gave a target, or into a generic value (maps, slices, float64,
// string, bool, nil) otherwise. A result that does not fit c.Out fails the
// call with InvokerError naming the target type.
//
// When c.Check is set (AdvancedCCM), the answer is judged first
// ([pipeline.CheckAnswer]): the result is decoded into a generic value
// and checked, then, if c.Out is set, decoded again into c.Out; an error
// name is mapped by the check.
func (d *Decoder) Finish(c *pipeline.Call) {
	defer func() { c.Rsp.RawR = nil }() // it points into the transport's reused buffer
	d.finish(c)
}

func (d *Decoder) finish(c *pipeline.Call) {
	rsp := &c.Rsp
	if d.verify != nil {
		if rsp.E == "" && rsp.HasR && !rsp.RDecoded {
			if err := d.codec.DecodeValue(rsp.RawR, &rsp.R); err != nil {
				c.Complete(nil, pipeline.Errorf(pipeline.CommError, "cannot decode the result of %s: %v", c.Req.F, err))
				return
			}
			rsp.RDecoded = true
		}
		if err := d.verify.Verify(c); err != nil {
			c.Complete(nil, err)
			return
		}
	}
	if c.Check != nil {
		d.finishChecked(c)
		return
	}
	if rsp.E != "" {
		c.Complete(nil, pipeline.RemoteError(rsp.E, rsp.EDesc))
		return
	}
	if c.Out != nil {
		// Decoded only if this completion wins: once the caller has
		// returned (deadline, cancel), its target is not written to.
		c.CompleteWith(func() (any, error) {
			if err := d.codec.DecodeValue(rsp.RawR, c.Out); err != nil {
				return nil, pipeline.Errorf(pipeline.InvokerError, "cannot decode the result of %s into %T: %v", c.Req.F, c.Out, err)
			}
			return c.Out, nil
		})
		return
	}
	if rsp.RDecoded {
		c.Complete(rsp.R, nil)
		return
	}
	var v any
	if err := d.codec.DecodeValue(rsp.RawR, &v); err != nil {
		c.Complete(nil, pipeline.Errorf(pipeline.CommError, "cannot decode the result of %s: %v", c.Req.F, err))
		return
	}
	c.Complete(v, nil)
}

// finishChecked completes a call whose answer c.Check judges.
func (d *Decoder) finishChecked(c *pipeline.Call) {
	rsp := &c.Rsp
	if rsp.E == "" && !c.OneWay && rsp.HasR && !rsp.RDecoded {
		if err := d.codec.DecodeValue(rsp.RawR, &rsp.R); err != nil {
			c.Complete(nil, pipeline.Errorf(pipeline.CommError, "cannot decode the result of %s: %v", c.Req.F, err))
			return
		}
		rsp.RDecoded = true
	}
	res, err := pipeline.CheckAnswer(c, rsp.E, rsp.EDesc, rsp.R, rsp.Size)
	if err == nil && c.Out != nil && !c.OneWay && rsp.HasR {
		// Into the caller's target only if this completion wins.
		c.CompleteWith(func() (any, error) {
			if err := d.codec.DecodeValue(rsp.RawR, c.Out); err != nil {
				return nil, pipeline.Errorf(pipeline.InvokerError, "cannot decode the result of %s into %T: %v", c.Req.F, c.Out, err)
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
