package pipeline

import "io"

// Raw is the raw data of an FTN5 raw call (spec HTTP.md §1 cases 3 and 4,
// §6): a body uploaded instead of a request message, and a result that
// arrives as raw bytes instead of a response message. A call carries one
// in [Call.Raw]; only the HTTP raw transport (sink.RawHTTP) reads it.
//
// The fields are set by whoever builds the call, before it is submitted;
// the transport sets Stream and Written.
type Raw struct {
	// Body, when not nil, is uploaded as the HTTP request body (use case
	// 3): the call becomes a POST to the URL-mapped path with the params in
	// the query string. nil: the request message is POSTed (use case 1).
	// The transport reads it once, so a raw call is never retried.
	Body io.Reader
	// Size is Body's length when known (it is then sent as Content-Length),
	// or -1 (the body goes chunked).
	Size int64
	// Result says the function has rawresult: on success the response
	// body is the raw data, and a response message carrying a result is a
	// protocol error (InternalError). Without it a raw reply is the
	// protocol error.
	Result bool
	// To, when not nil (and Result set), receives the raw result: the
	// transport copies the body into it and completes the call with the
	// byte count (int64). When nil, the call completes with the open body,
	// an io.ReadCloser, as soon as the reply's headers show raw data.
	To io.Writer
	// MaxResult bounds the raw result in bytes; 0 means no bound. A larger
	// result fails with CommError (To: the call; a stream: its Read).
	MaxResult int64
}
