package pipeline

import "fmt"

// Request is a FutoIn request message (FTN3 §1.4, spec/WIRE.md §2).
// Field names follow the wire keys.
type Request struct {
	F        string         // "iface:major.minor:func"
	P        map[string]any // parameters; never nil on the wire ({} when empty)
	Rid      string         // request id on multiplexed channels ("C1", "S3"); empty on HTTP
	ForceRsp bool           // "forcersp": ask for a response even for a void function
	Sec      string         // security field: credentials or a MAC string
	Obf      map[string]any // on-behalf-of user {lid, gid, slvl}; nil when absent
}

// Response is a FutoIn response message (spec/WIRE.md §3). Exactly one of
// a result or an error is present: E is empty for a result.
//
// R holds the result when this side builds a response (an Executor). On the
// receiving side a codec leaves the result undecoded in RawR, so the
// result can be decoded once, straight into the caller's target
// ([Codec.DecodeValue]).
type Response struct {
	R    any
	RawR []byte // the undecoded "r" as received; codec specific
	HasR bool   // whether "r" was present
	// RDecoded reports that R holds RawR decoded into a generic value (a
	// verifier that needed the tree did it), so it need not be decoded
	// again.
	RDecoded bool
	E        ErrorName
	EDesc    string
	Rid      string
	Sec      string
	// Size is the length in bytes of the frame the response was decoded
	// from (0 when nothing was encoded, in process).
	Size int
}

// Codec turns messages into bytes and back. Implementations are safe for
// concurrent use. Append methods append to dst and return the extended
// slice, so callers can reuse buffers.
type Codec interface {
	// Name is the FutoIn coder name: "JSON", "MPCK" or "CBOR".
	Name() string
	// ContentType is the HTTP media type, e.g. "application/futoin+json".
	ContentType() string

	AppendRequest(dst []byte, r *Request) ([]byte, error)
	DecodeRequest(b []byte, r *Request) error
	AppendResponse(dst []byte, r *Response) ([]byte, error)
	// DecodeResponse decodes b into r, leaving the result raw in r.RawR.
	// RawR may alias b.
	DecodeResponse(b []byte, r *Response) error
	// DecodeValue decodes a raw value (Response.RawR) into v, which is a
	// non-nil pointer: *any gives maps, slices and scalars.
	DecodeValue(raw []byte, v any) error
}

// String prints the request with its "sec" redacted: credentials and
// signatures never reach logs through fmt.
func (r Request) String() string {
	sec := ""
	if r.Sec != "" {
		sec = " sec=***"
	}
	return fmt.Sprintf("Request{f=%s rid=%s forcersp=%t p=%d params%s}", r.F, r.Rid, r.ForceRsp, len(r.P), sec)
}

// GoString is String, for %#v.
func (r Request) GoString() string { return r.String() }
