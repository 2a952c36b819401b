package ccm

import (
	"context"
	"io"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
	"github.com/ftnpipe/ccm/stage"
)

// Raw data calls (FTN5, spec HTTP.md §1 cases 3 and 4, §6).
//
// A function declared with "rawupload" takes a raw request body instead of
// (besides) its params; one declared with "rawresult" answers with raw
// bytes instead of a result message. They always travel over HTTP, one
// exchange per call:
//
//   - with an upload: POST {endpoint}/{iface}/{ver}/{func}?{params}, the
//     body as it is (application/octet-stream), params in the query
//     string (strings as they are, other values as JSON text), clear-text
//     credentials in an Authorization: Basic header, never in the URL;
//   - without one: the request message is POSTed to the endpoint, as for
//     any call; only the reply differs.
//
// A ws:// or wss:// endpoint sends its raw calls to the same URL over
// http:// or https:// (the reference invoker does the same,
// REFERENCE-JS.md §2.1); tcp://, unix:// and in-process endpoints have no
// HTTP form and refuse raw calls with InvokerError, as the reference does
// for its non-HTTP channels.
//
// Choices where the spec is silent:
//
//   - MAC credentials: FTN5 does not say what a MAC covers in a URL-mapped
//     request (HTTP.md §10), and a raw result is never signed
//     (REFERENCE-JS.md §4.4). A MAC-signed endpoint would thus get
//     unauthenticated data, so raw calls on it fail with InvokerError
//     before anything is sent.
//   - No retry: a body is read once and a result may be partly written,
//     so RetryCount does not apply to raw calls.
//   - Time: the call timeout and ctx bound the whole exchange, including
//     the transfer of the raw result; a download still open when either
//     ends fails its next Read with Timeout.
//   - Size: an upload is not limited here (the executor limits what it
//     accepts); a raw result is limited only by [MaxRawResult] (default
//     none, as in the reference); FutoIn messages, errors included, are
//     bounded by [MaxMessageSize] as always.
//   - Errors arrive as FutoIn messages even for rawresult functions
//     (HTTP.md §4): the peer's error is returned as for Call. A result
//     message where raw data was expected, or raw data where a message
//     was, is InternalError (the AdvancedCCM's rule; the reference
//     SimpleCCM would pass either on).
//   - Limits: raw calls pass the endpoint's limit zone like any other call
//     (see rawLane.build).

// Upload calls fn, a function with "rawupload", sending body as its raw
// data and params in the URL query, and returns its result as [Iface.Call]
// does. A nil body uploads zero bytes. body is read once, up to EOF, and
// never closed: it stays the caller's. When body has a Len() int method
// (*bytes.Reader, *bytes.Buffer, *strings.Reader) its length is sent as
// Content-Length; otherwise the upload is chunked.
//
// An empty reply (a function without a result) gives a nil result. Errors
// are those of Call, plus InvokerError for a param that cannot go in a URL
// query ([]byte), for an endpoint without an HTTP form and for MAC
// credentials, and InternalError when the reply is raw data (the function
// has "rawresult": use [Iface.Download] with a body).
func (i *Iface) Upload(ctx context.Context, fn string, params map[string]any, body io.Reader) (any, error) {
	if body == nil {
		body = emptyBody{}
	}
	return i.goRaw(ctx, fn, params, &pipeline.Raw{Body: body, Size: sizeOf(body)}).Wait()
}

// Download calls fn, a function with "rawresult", and returns its raw
// result as an open stream, which the caller must close. When body is not
// nil it is uploaded as for [Iface.Upload] (a function with both
// "rawupload" and "rawresult"); otherwise the request message is POSTed.
//
// Download returns once the reply's headers show raw data; the stream then
// reads the body as it arrives. Its Read fails with a *pipeline.Error:
// Timeout when ctx or the call timeout ends (the connection is closed at
// once: cancelling ctx ends a download), CommError when the connection
// fails, the result is cut short or exceeds [MaxRawResult]. An open stream
// holds one of the endpoint's connections ([MaxConns]) until closed.
//
// Errors before the stream: those of Upload, and InternalError when the
// reply is a result message instead of raw data.
func (i *Iface) Download(ctx context.Context, fn string, params map[string]any, body io.Reader) (io.ReadCloser, error) {
	raw := &pipeline.Raw{Result: true, Body: body, Size: sizeOf(body)}
	res, err := i.goRaw(ctx, fn, params, raw).Wait()
	if err != nil {
		return nil, err
	}
	return res.(io.ReadCloser), nil
}

// DownloadTo is [Iface.Download] that copies the raw result into w and
// returns the number of bytes written, once the whole result arrived.
// A failure after some bytes were written leaves them in w; the error
// says what failed (Timeout, CommError as for Download; InvokerError when
// w fails).
func (i *Iface) DownloadTo(ctx context.Context, fn string, params map[string]any, body io.Reader, w io.Writer) (int64, error) {
	if w == nil {
		return 0, pipeline.NewError(pipeline.InvokerError, "DownloadTo needs a writer")
	}
	raw := &pipeline.Raw{Result: true, Body: body, Size: sizeOf(body), To: w}
	res, err := i.goRaw(ctx, fn, params, raw).Wait()
	if err != nil {
		return 0, err
	}
	return res.(int64), nil
}

// emptyBody is an empty upload.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Len() int                 { return 0 }

// sizeOf is the length of body when it tells it, else -1.
func sizeOf(body io.Reader) int64 {
	if l, ok := body.(interface{ Len() int }); ok {
		return int64(l.Len())
	}
	return -1
}

// goRaw starts a raw call.
func (i *Iface) goRaw(ctx context.Context, fn string, params map[string]any, raw *pipeline.Raw) *Call {
	c := pipeline.NewCall(ctx, i.fname(fn), params)
	c.Req.ForceRsp = true // SimpleCCM: always ask for a response
	raw.MaxResult = i.ep.cfg.maxRawResult
	c.Raw = raw
	if err := i.checkRaw(fn, raw.Body != nil, raw.Result); err != nil {
		c.Complete(nil, err)
		return c
	}
	if i.closed.Load() {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "interface %q is unregistered", i.name))
		return c
	}
	p, err := i.ep.rawPipeline()
	if err != nil {
		c.Complete(nil, err)
		return c
	}
	if p == nil {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "interface %q is unregistered", i.name))
		return c
	}
	p.Submit(c)
	return c
}

// checkRaw is where an AdvancedCCM checks a raw call against the
// function's spec before anything is sent: upload on a function without
// "rawupload" → InvokerError "Raw upload is not allowed: f()"
// (REFERENCE-JS.md §6.3); Download/DownloadTo (result) on a function
// without "rawresult", or Call on one with it → InvokerError. The
// SimpleCCM knows no specs: the caller's choice of method is the
// declaration, and only the reply is checked (see the sink).
func (i *Iface) checkRaw(fn string, upload, result bool) error {
	if i.spec == nil {
		return nil
	}
	f, err := i.spec.Func(fn)
	if err != nil {
		return err // the reference's "Unknown interface function"
	}
	if err := f.CheckUpload(upload); err != nil {
		return err
	}
	switch {
	case result && !f.RawResult():
		return pipeline.NewError(pipeline.InvokerError, "Raw result is not expected: "+fn+"() has no rawresult; use Call or Upload")
	case !result && f.RawResult():
		return pipeline.NewError(pipeline.InvokerError, "Raw result is expected: "+fn+"() has rawresult; use Download or DownloadTo")
	}
	return nil
}

// MaxRawResult bounds the raw result of [Iface.Download] and
// [Iface.DownloadTo] in bytes (default 0: no bound, as in the reference
// invoker). A larger result fails with CommError: at once when its
// Content-Length says so, else when the read passes the bound. FutoIn
// messages are bounded by [MaxMessageSize] whatever this says.
func MaxRawResult(n int64) Option {
	if n < 0 {
		n = 0
	}
	return option(func(c *config) { c.maxRawResult = n })
}

// rawLane is the pipeline of an endpoint's raw calls, built on the first
// one.
type rawLane struct {
	once sync.Once
	mu   sync.Mutex
	p    *pipeline.Pipeline
	err  error
	http *sink.RawHTTP
}

// rawPipeline returns the endpoint's raw pipeline, building it on first
// use; nil once the endpoint is closed, an InvokerError when the endpoint
// cannot carry raw calls.
func (ep *endpoint) rawPipeline() (*pipeline.Pipeline, error) {
	ep.raw.once.Do(ep.buildRaw)
	ep.mu.Lock()
	closed := ep.closed
	ep.mu.Unlock()
	ep.raw.mu.Lock()
	defer ep.raw.mu.Unlock()
	if closed {
		return nil, nil
	}
	return ep.raw.p, ep.raw.err
}

// buildRaw assembles the chain of raw calls:
//
//	await → [limit zone] → [sign] → encode (message POSTs only) → transmit (RawHTTP)
//
// There is no mux (one exchange per call), no retry (see the doc above)
// and no response MAC (refused). The limit zone's gate, when the endpoint
// has one, sits right after await, as in build: raw calls count against
// the zone like any other call.
func (ep *endpoint) buildRaw() {
	var err error
	switch {
	case ep.local != nil || ep.scheme == "tcp" || ep.scheme == "unix":
		err = pipeline.NewError(pipeline.InvokerError, "raw data calls need an http(s) or ws(s) endpoint")
	case ep.verify != nil:
		err = pipeline.NewError(pipeline.InvokerError, "raw data calls cannot be MAC-signed: FTN5 defines no MAC over raw data (use user:password credentials over https, or none)")
	}
	if err != nil {
		ep.raw.mu.Lock()
		ep.raw.err = err
		ep.raw.mu.Unlock()
		return
	}
	cfg := ep.cfg
	dec := stage.NewDecoder(ep.codec)
	var p *pipeline.Pipeline
	tx, err := sink.NewRawHTTP(sink.RawHTTPConfig{
		URL:         sink.HTTPFallbackURL(ep.url),
		ContentType: ep.codec.ContentType(),
		TLS:         cfg.tls,
		MaxConns:    cfg.maxConns,
		MaxResponse: int64(cfg.maxMessage),
		DialTimeout: cfg.dialTimeout,
		Finish: func(c *pipeline.Call, body []byte) error {
			if err := dec.Envelope(body, &c.Rsp); err != nil {
				return err
			}
			if c.Rsp.E == "" && c.Raw.Result {
				c.Rsp.RawR = nil
				c.Complete(nil, pipeline.Errorf(pipeline.InternalError, "raw result is expected: %s answered with a result message", c.Req.F))
				return nil
			}
			dec.Finish(c)
			return nil
		},
		Fail: func(c *pipeline.Call, err error) { p.Fail(c, err) },
	})
	if err != nil {
		ep.raw.mu.Lock()
		ep.raw.err = err
		ep.raw.mu.Unlock()
		return
	}
	// An AdvancedCCM's checks (params, defaults, the answer) as for any
	// call; checkRaw has checked the raw flags already.
	steps := append(ep.validate(), pipeline.T("await", stage.Await(cfg.callTimeout)))
	if ep.zone != nil {
		steps = append(steps, pipeline.G("throttle", ep.zone))
	}
	if ep.signer != nil {
		steps = append(steps, pipeline.T("sign", stage.Sign(ep.signer)))
	}
	encode := stage.Encode(ep.codec, cfg.maxMessage)
	steps = append(steps,
		pipeline.T("encode", func(c *pipeline.Call) error {
			if c.Raw.Body != nil {
				return nil // the params go in the URL, the body as it is
			}
			return encode(c)
		}),
		pipeline.S("transmit", tx, tx.Workers()))
	p = pipeline.New(steps, pipeline.OnClose(tx.CloseIdle))
	ep.raw.mu.Lock()
	ep.raw.p, ep.raw.http = p, tx
	ep.raw.mu.Unlock()
}

// closeRaw closes the raw pipeline if it was ever built.
func (ep *endpoint) closeRaw() {
	ep.raw.mu.Lock()
	p := ep.raw.p
	ep.raw.mu.Unlock()
	if p != nil {
		_ = p.Close()
	}
}
