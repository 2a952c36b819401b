package sink

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
)

// RawHTTPConfig configures a [RawHTTP] sink: the fields of [HTTPConfig],
// read for raw calls. URL is the endpoint's http:// or https:// URL (for
// a ws:// or wss:// endpoint, its HTTP form: see [HTTPFallbackURL]);
// ContentType is for calls without an upload (their request message is
// POSTed); MaxResponse bounds FutoIn response messages only (raw results
// have their own bound, [pipeline.Raw.MaxResult]); an open download
// ([pipeline.Raw] without To) holds its connection, one of MaxConns,
// until the caller closes it.
type RawHTTPConfig = HTTPConfig

// RawHTTP is the transmit stage of raw data calls (FTN5, spec HTTP.md §1
// cases 1, 3 and 4): every call must carry a [pipeline.Raw].
//
// A call with an upload (Raw.Body) is a POST of the body, Content-Type
// application/octet-stream, to {endpoint path}/{iface}/{ver}/{func} with
// the params in the query string: a string as it is, anything else as its
// JSON text (HTTP.md §3); a []byte param has no text form and fails with
// InvokerError. Clear-text credentials ("sec" = "user:password") travel in
// an Authorization: Basic header (HTTP.md §2), never in the URL: the
// reference invoker puts them in the path (REFERENCE-JS.md §11 item 10),
// this sink does not. A call without an upload POSTs its request message
// (c.Frame, encoded by the pipeline) to the endpoint URL, as the reference
// does for a raw download.
//
// The reply is read by its Content-Type, not its status (a non-2xx status
// is a CommError, as for [HTTP]): a FutoIn type is a response message,
// bounded by MaxResponse and handed to Finish (errors arrive this way,
// HTTP.md §4); anything else is raw data. Raw data completes a call with
// Raw.Result: copied into Raw.To (the result is the byte count, an int64)
// or handed over open (the result is an io.ReadCloser the caller must
// close). For a call without Raw.Result, raw data is an InternalError
// ("raw result not expected"), except an empty body, which is the
// answer of a function without a result (HTTP.md §4.2): the result is nil.
//
// The call's deadline and context bound the whole exchange, the transfer
// of an open download included: when either ends, the connection is
// closed and a read returns the Timeout error. Closing the endpoint (the
// stage's lifetime context) closes it too; a read then returns CommError.
//
// Run it with MaxConns workers. Call CloseIdle when done.
type RawHTTP struct {
	cfg    RawHTTPConfig
	client *http.Client
	tr     *http.Transport
	base   *url.URL
}

// NewRawHTTP returns the stage for cfg. A URL that does not parse is an
// InvokerError.
func NewRawHTTP(cfg RawHTTPConfig) (*RawHTTP, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, pipeline.NewError(pipeline.InvokerError, "raw calls need an http or https URL")
	}
	cfg.setDefaults()
	tr, client := newPool(cfg)
	return &RawHTTP{cfg: cfg, tr: tr, base: base, client: client}, nil
}

// HTTPFallbackURL maps a ws:// or wss:// endpoint URL to the http:// or
// https:// URL its raw calls go to, as the reference invoker does
// (REFERENCE-JS.md §2.1: the leading "ws" becomes "http", so "wss"
// becomes "https"; host, path and query stay). An http(s) URL is returned
// as it is; any other scheme gives "".
func HTTPFallbackURL(endpoint string) string {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
		return endpoint
	case "ws":
		return "http://" + rest
	case "wss":
		return "https://" + rest
	}
	return ""
}

// Workers is the number of workers to run this stage with.
func (h *RawHTTP) Workers() int { return h.cfg.MaxConns }

// CloseIdle closes the pooled idle connections.
func (h *RawHTTP) CloseIdle() { h.tr.CloseIdleConnections() }

// Run implements [pipeline.Stage].
func (h *RawHTTP) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	for c := range in {
		if c.IsDone() {
			continue
		}
		if ctx.Err() != nil {
			h.cfg.Fail(c, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
			continue
		}
		h.exchange(ctx, c)
	}
	return nil
}

// exchange runs one raw call. The cancel of its context is deferred unless
// an open download takes it over.
func (h *RawHTTP) exchange(life context.Context, c *pipeline.Call) {
	raw := c.Raw
	if raw == nil {
		c.Complete(nil, pipeline.NewError(pipeline.InvokerError, "not a raw call"))
		return
	}
	ctx := c.Context()
	var cancel context.CancelFunc
	if !c.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(life, cancel)
	handedOver := false
	defer func() {
		if !handedOver {
			stop()
			cancel()
		}
	}()

	req, err := h.request(ctx, c)
	if err != nil {
		c.Complete(nil, err)
		return
	}
	c.Sent.Store(true)
	rsp, err := h.client.Do(req)
	c.DetachFrame()
	if err != nil {
		h.cfg.Fail(c, exchangeError(err, life, c))
		return
	}
	ct := rsp.Header.Get("Content-Type")
	switch {
	case rsp.StatusCode < 200 || rsp.StatusCode > 299:
		rsp.Body.Close()
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "HTTP status %s", rsp.Status))
	case IsFutoInType(ct):
		h.message(life, c, rsp)
	case !raw.Result:
		h.unexpected(life, c, rsp)
	case raw.MaxResult > 0 && rsp.ContentLength > raw.MaxResult:
		rsp.Body.Close()
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "raw result of %s exceeds %d bytes (Content-Length %d)", c.Req.F, raw.MaxResult, rsp.ContentLength))
	case raw.To != nil:
		h.copyTo(life, ctx, c, rsp)
	default:
		s := &rawStream{life: life, ctx: ctx, body: rsp.Body, limit: raw.MaxResult, f: c.Req.F, cancel: func() { stop(); cancel() }}
		handedOver = true
		if !c.Complete(s, nil) {
			s.Close() // the call ended first (deadline, cancel): nobody reads it
		}
	}
}

// request builds the HTTP request of c.
func (h *RawHTTP) request(ctx context.Context, c *pipeline.Call) (*http.Request, error) {
	raw := c.Raw
	if raw.Body == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(c.Frame))
		if err != nil {
			return nil, pipeline.Errorf(pipeline.InvokerError, "cannot build HTTP request: %v", err)
		}
		req.Header.Set("Content-Type", h.cfg.ContentType)
		req.Header.Set("Accept", h.cfg.ContentType+", */*")
		return req, nil
	}
	u, err := h.mappedURL(&c.Req)
	if err != nil {
		return nil, err
	}
	body := raw.Body
	if _, ok := body.(io.Closer); ok {
		body = struct{ io.Reader }{body} // hides Close: the caller owns the body
	}
	if raw.Size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, pipeline.Errorf(pipeline.InvokerError, "cannot build HTTP request: %v", err)
	}
	req.ContentLength = raw.Size
	if raw.Size < 0 {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", h.cfg.ContentType+", */*")
	if c.Req.Sec != "" {
		// Clear-text credentials as HTTP Basic (FTN5 §2); never in the URL.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.Req.Sec)))
	}
	return req, nil
}

// mappedURL is {endpoint path}/{iface}/{ver}/{func}?{params} (HTTP.md §3).
func (h *RawHTTP) mappedURL(r *pipeline.Request) (string, error) {
	parts := strings.Split(r.F, ":")
	if len(parts) != 3 {
		return "", pipeline.Errorf(pipeline.InvokerError, "bad function name %q", r.F)
	}
	q := url.Values{}
	for k, v := range r.P {
		s, err := QueryValue(v)
		if err != nil {
			return "", pipeline.Errorf(pipeline.InvokerError, "param %q of %s cannot go in a URL query: %v", k, r.F, err)
		}
		q.Set(k, s)
	}
	u := *h.base
	p := u.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	u.Path = p + parts[0] + "/" + parts[1] + "/" + parts[2]
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// QueryValue is the text of a param in a URL query (FTN5 v1.2, HTTP.md
// §3): a string as it is, any other value as its JSON text. []byte has no
// text form in FTN5 and is an error.
func QueryValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return "", errors.New("binary data has no URL form")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// message completes c from a FutoIn response message.
func (h *RawHTTP) message(life context.Context, c *pipeline.Call, rsp *http.Response) {
	defer rsp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(rsp.Body, h.cfg.MaxResponse+1))
	switch {
	case err != nil:
		h.cfg.Fail(c, exchangeError(err, life, c))
	case int64(len(body)) > h.cfg.MaxResponse:
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "response exceeds %d bytes", h.cfg.MaxResponse))
	case len(body) == 0:
		h.cfg.Fail(c, pipeline.NewError(pipeline.CommError, "empty response body with a FutoIn content type"))
	default:
		if err := h.cfg.Finish(c, body); err != nil {
			h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "malformed FutoIn response: %v", err))
		}
	}
}

// unexpected handles raw data for a call without Raw.Result: an empty
// body is a function without a result; anything else is InternalError.
func (h *RawHTTP) unexpected(life context.Context, c *pipeline.Call, rsp *http.Response) {
	defer rsp.Body.Close()
	var one [1]byte
	n, err := io.ReadFull(rsp.Body, one[:])
	switch {
	case n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		c.Complete(nil, nil)
	case n == 0:
		h.cfg.Fail(c, exchangeError(err, life, c))
	default:
		c.Complete(nil, pipeline.Errorf(pipeline.InternalError, "raw result not expected: %s answered with %q data", c.Req.F, rsp.Header.Get("Content-Type")))
	}
}

// exchangeError names a failed exchange: the caller's cancellation wins
// over the transport's view of it (which sees only "context canceled"),
// so a cancelled call fails with Timeout whoever completes it first.
func exchangeError(err error, life context.Context, c *pipeline.Call) error {
	if life.Err() == nil {
		if cerr := c.Context().Err(); cerr != nil {
			return cerr
		}
	}
	return transportError(err, life)
}

// copyTo copies a raw result into c.Raw.To.
func (h *RawHTTP) copyTo(life, ctx context.Context, c *pipeline.Call, rsp *http.Response) {
	s := &rawStream{life: life, ctx: ctx, body: rsp.Body, limit: c.Raw.MaxResult, f: c.Req.F}
	defer s.Close()
	n, err := io.Copy(c.Raw.To, s)
	switch {
	case err == nil:
		c.Complete(n, nil)
	case s.err != nil: // the read side failed: its error is already named
		c.Complete(nil, s.err)
	default:
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "writing the raw result of %s: %v", c.Req.F, err))
	}
}

// rawStream is the body of a raw result as the caller reads it: bounded,
// with FutoIn errors, and closing it ends the exchange (its context).
type rawStream struct {
	life   context.Context // the stage's: ends when the endpoint closes
	ctx    context.Context
	body   io.ReadCloser
	limit  int64 // 0: none
	n      int64
	f      string
	cancel func() // nil when the exchange owns the context
	err    error  // the first read error other than EOF
	once   sync.Once
}

// Read reads the raw result. Errors are *pipeline.Error: Timeout when the
// call's deadline or context ended, CommError when the endpoint closed,
// the connection failed or the result is truncated or larger than the
// limit.
func (s *rawStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.limit > 0 && int64(len(p)) > s.limit-s.n+1 {
		p = p[:s.limit-s.n+1]
	}
	n, err := s.body.Read(p)
	s.n += int64(n)
	if s.limit > 0 && s.n > s.limit {
		s.err = pipeline.Errorf(pipeline.CommError, "raw result of %s exceeds %d bytes", s.f, s.limit)
		return n - int(s.n-s.limit), s.err
	}
	switch {
	case err == nil || err == io.EOF:
		return n, err
	case s.life.Err() != nil:
		s.err = pipeline.Errorf(pipeline.CommError, "endpoint closed while reading the raw result of %s", s.f)
	case s.ctx.Err() != nil:
		s.err = pipeline.AsError(s.ctx.Err(), pipeline.Timeout)
	default:
		s.err = pipeline.Errorf(pipeline.CommError, "reading the raw result of %s: %v", s.f, redactURLError(err))
	}
	return n, s.err
}

// Close closes the body and releases the exchange; it is safe to call
// more than once.
func (s *rawStream) Close() error {
	s.once.Do(func() {
		_ = s.body.Close()
		if s.cancel != nil {
			s.cancel()
		}
	})
	return nil
}

// String describes the stream without its content.
func (s *rawStream) String() string {
	return "raw result of " + s.f + " (" + strconv.FormatInt(s.n, 10) + " bytes read)"
}
