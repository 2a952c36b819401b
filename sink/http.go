package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// HTTPConfig configures an [HTTP] sink.
type HTTPConfig struct {
	// URL is the http:// or https:// endpoint; every call is a POST to it.
	URL string
	// ContentType is the request's media type (the codec's,
	// application/futoin+X); default application/futoin+json. The Accept
	// header lists it, its vnd. form and, for a binary codec, the JSON
	// types (a peer's error reply may be JSON).
	ContentType string
	// TLS is used for https://; nil means the system defaults.
	TLS *tls.Config
	// MaxConns bounds the connections to the endpoint and is the number of
	// workers to run (default 16, the reference's commConcurrency). Idle
	// connections are kept for reuse up to the same number, instead of
	// net/http's default of 2.
	MaxConns int
	// MaxResponse is the largest response body accepted (default 64 KiB).
	MaxResponse int64
	// DialTimeout bounds connecting (default 10 s).
	DialTimeout time.Duration

	// Finish completes a call from the response body (the decoder:
	// envelope, then result or error). It returns an error when the body
	// is not a FutoIn message; the call is then failed with CommError.
	Finish func(c *pipeline.Call, body []byte) error
	// Fail disposes of a call that failed in transport; the pipeline's
	// Fail, so the retry policy applies.
	Fail func(c *pipeline.Call, err error)
}

// HTTP is the transmit stage for http:// and https:// endpoints (FTN5 use
// case 1): the whole request message is POSTed to the endpoint URL with
// the codec's Content-Type (application/futoin+json, +msgpack or +cbor)
// and Accept listing it in both forms; the body of the reply is the
// response message, in whichever FutoIn type the peer chose (Finish
// reads it).
//
// A reply that is not a FutoIn message is never taken for a result: a
// non-2xx status, a media type other than application/futoin+* or
// application/vnd.futoin+*, an empty body, or a body over MaxResponse all
// fail the call with CommError naming the status. A connection that cannot
// be made fails it with ConnectError; a transport failure after that with
// CommError.
//
// Run it with MaxConns workers: each worker carries one call at a time, so
// the pool never needs more connections than workers, and every worker
// reuses them through HTTP keep-alive. Close the stage (end its input) and
// call CloseIdle to release the pool.
type HTTP struct {
	cfg    HTTPConfig
	client *http.Client
	tr     *http.Transport
	accept []string
}

// NewHTTP returns the stage for cfg.
func NewHTTP(cfg HTTPConfig) *HTTP {
	cfg.setDefaults()
	accept := cfg.ContentType + ", " + strings.Replace(cfg.ContentType, futoinPrefix, vndPrefix, 1)
	if cfg.ContentType != jsonType {
		accept += ", " + acceptJSON
	}
	tr, client := newPool(cfg)
	return &HTTP{cfg: cfg, tr: tr, client: client, accept: []string{accept}}
}

// setDefaults fills the zero fields of cfg with their documented defaults.
func (cfg *HTTPConfig) setDefaults() {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.ContentType == "" {
		cfg.ContentType = jsonType
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 65536
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
}

// newPool returns the keep-alive pool of an endpoint, MaxConns
// connections, and its client. The client never follows redirects: a
// redirect would re-send the message, "sec" included, to another URL
// (possibly plain http), and take that host's answer for the endpoint's.
// A 3xx fails as CommError.
func newPool(cfg HTTPConfig) (*http.Transport, *http.Client) {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     cfg.TLS,
		MaxIdleConns:        cfg.MaxConns,
		MaxIdleConnsPerHost: cfg.MaxConns,
		MaxConnsPerHost:     cfg.MaxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.DialTimeout,
		ForceAttemptHTTP2:   false,
		DisableCompression:  true,
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return tr, &http.Client{Transport: tr, CheckRedirect: noRedirect}
}

// Workers is the number of workers to run this stage with.
func (h *HTTP) Workers() int { return h.cfg.MaxConns }

// CloseIdle closes the pooled idle connections.
func (h *HTTP) CloseIdle() { h.tr.CloseIdleConnections() }

const (
	futoinPrefix = "application/futoin+"
	vndPrefix    = "application/vnd.futoin+"
	jsonType     = futoinPrefix + "json"
	acceptJSON   = jsonType + ", " + vndPrefix + "json"
)

// Run implements [pipeline.Stage].
func (h *HTTP) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	var body bytes.Buffer
	for c := range in {
		if c.IsDone() {
			continue
		}
		if ctx.Err() != nil {
			h.cfg.Fail(c, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
			continue
		}
		h.post(ctx, c, &body)
	}
	return nil
}

func (h *HTTP) post(life context.Context, c *pipeline.Call, body *bytes.Buffer) {
	ctx := c.Context()
	var cancel context.CancelFunc
	if !c.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	stop := context.AfterFunc(life, cancel)
	defer stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(c.Frame))
	if err != nil {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "cannot build HTTP request: %v", err))
		return
	}
	req.Header.Set("Content-Type", h.cfg.ContentType)
	req.Header["Accept"] = h.accept // shared, read-only
	c.Sent.Store(true)
	rsp, err := h.client.Do(req)
	c.DetachFrame() // net/http may still be reading it
	if err != nil {
		h.cfg.Fail(c, transportError(err, life))
		return
	}
	defer rsp.Body.Close()
	body.Reset()
	_, err = body.ReadFrom(io.LimitReader(rsp.Body, h.cfg.MaxResponse+1))
	if err != nil {
		h.cfg.Fail(c, transportError(err, life))
		return
	}
	if rsp.StatusCode < 200 || rsp.StatusCode > 299 {
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "HTTP status %s", rsp.Status))
		return
	}
	if c.Check != nil && checkedHTTP(c, rsp.Header.Get("Content-Type"), body.Bytes(), h.cfg.MaxResponse) {
		return
	}
	if !IsFutoInType(rsp.Header.Get("Content-Type")) {
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "not a FutoIn response: HTTP status %s, content type %q", rsp.Status, rsp.Header.Get("Content-Type")))
		return
	}
	if int64(body.Len()) > h.cfg.MaxResponse {
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "response exceeds %d bytes (HTTP status %s)", h.cfg.MaxResponse, rsp.Status))
		return
	}
	if body.Len() == 0 {
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "empty response body (HTTP status %s)", rsp.Status))
		return
	}
	if err := h.cfg.Finish(c, body.Bytes()); err != nil {
		h.cfg.Fail(c, pipeline.Errorf(pipeline.CommError, "malformed FutoIn response (HTTP status %s): %v", rsp.Status, err))
	}
	if body.Cap() > 4*int(h.cfg.MaxResponse) {
		*body = bytes.Buffer{}
	}
}

// IsFutoInType reports whether a Content-Type header names a FutoIn
// message: application/futoin+X or application/vnd.futoin+X, parameters
// ignored.
func IsFutoInType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, futoinPrefix) || strings.HasPrefix(mt, vndPrefix)
}

// transportError names a failed HTTP exchange: a failure to connect is a
// ConnectError (nothing was sent), anything later a CommError; the end of
// the call's own context is left to stage.Await, which has already
// completed it, so the name here does not matter for it.
func transportError(err error, life context.Context) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return pipeline.Errorf(pipeline.ConnectError, "cannot connect: %v", op.Err)
	}
	if tlsHandshakeError(err) {
		return pipeline.Errorf(pipeline.ConnectError, "cannot connect: %v", redactURLError(err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return pipeline.NewError(pipeline.Timeout, "deadline exceeded").WithCause(err)
	}
	if life.Err() != nil {
		return pipeline.NewError(pipeline.CommError, "endpoint closed during the request")
	}
	return pipeline.Errorf(pipeline.CommError, "HTTP exchange failed: %v", redactURLError(err))
}

// tlsHandshakeError reports whether err is a TLS handshake failure: the
// peer's certificate was not trusted, or the peer does not speak TLS or
// refused the handshake. The request was not sent.
func tlsHandshakeError(err error) bool {
	var verr *tls.CertificateVerificationError
	var rerr tls.RecordHeaderError
	var aerr tls.AlertError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &rerr) || errors.As(err, &aerr) ||
		errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}

// redactURLError keeps the *url.Error's operation and cause but not the
// URL (it may carry user info).
func redactURLError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return fmt.Sprint(inner)
		}
	}
	return err.Error()
}
