package ccm

import (
	"net/url"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
	"github.com/ftnpipe/ccm/stage"
)

// endpoint is one registration's connection to its peer: its URL, options,
// credentials and, once the first call is made, its pipeline.
type endpoint struct {
	url    string // without any secure+ prefix
	scheme string // http, https, ws or wss
	secure bool
	cfg    config
	signer stage.Signer   // nil: anonymous
	verify stage.Verifier // MAC credentials: checks every response
	zone   *stage.Zone    // nil: the zone "unlimited", no throttle step

	once   sync.Once
	mu     sync.Mutex // guards closed and p across start/close
	closed bool
	p      *pipeline.Pipeline
	mux    *stage.Mux
	retry  *stage.Retry
	http   *sink.HTTP
}

// parseEndpoint checks an endpoint URL. Errors never repeat the URL's user
// info.
func parseEndpoint(raw string, cfg config) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, pipeline.NewError(pipeline.InvokerError, "invalid endpoint URL")
	}
	if u.User != nil {
		return nil, pipeline.NewError(pipeline.InvokerError, "credentials in the endpoint URL are not allowed; use ccm.Credentials")
	}
	scheme := strings.ToLower(u.Scheme)
	secure := false
	if rest, ok := strings.CutPrefix(scheme, "secure+"); ok {
		scheme, secure = rest, true
		u.Scheme = rest
	}
	switch scheme {
	case "http", "ws":
	case "https", "wss":
		secure = true
	default:
		return nil, pipeline.Errorf(pipeline.InvokerError, "unknown endpoint scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, pipeline.Errorf(pipeline.InvokerError, "endpoint URL %s has no host", u.Redacted())
	}
	ep := &endpoint{url: u.String(), scheme: scheme, secure: secure, cfg: cfg}
	if err := ep.credentials(); err != nil {
		return nil, err
	}
	return ep, nil
}

// credentials builds the signer (and for MAC credentials the response
// verifier) from the options.
func (ep *endpoint) credentials() error {
	cfg := &ep.cfg
	isMAC := strings.HasPrefix(cfg.creds, "-smac:") || strings.HasPrefix(cfg.creds, "-hmac:")
	switch {
	case cfg.hasMACKey && cfg.macKeyErr != nil:
		return cfg.macKeyErr
	case cfg.hasMACKey && !isMAC:
		return pipeline.NewError(pipeline.InvokerError, `a MAC key needs "-smac:user" or "-hmac:user" credentials`)
	case isMAC && !cfg.hasMACKey:
		return pipeline.NewError(pipeline.InvokerError, "MAC credentials need a key: add ccm.MACKey or ccm.MACKeyBase64")
	case isMAC:
		m, err := stage.ParseMAC(cfg.creds, cfg.macKey, cfg.macAlgo)
		if err != nil {
			return err
		}
		m.AcceptUnsignedErrors = cfg.unsignedOK
		ep.signer, ep.verify = m, m
		cfg.macKey = nil // the signer holds its own copy
	case cfg.hasCreds:
		pw, err := stage.ParsePassword(cfg.creds)
		if err != nil {
			return err
		}
		ep.signer = pw
	}
	cfg.creds = "" // kept only inside the signer, whose printing redacts it
	return nil
}

func (ep *endpoint) multiplexed() bool { return ep.scheme == "ws" || ep.scheme == "wss" }

// defaultZone is the limit zone of an endpoint registered without the
// LimitZone option: "default" for every external endpoint (all schemes
// today); in-process endpoints will use "unlimited" (INVOKER.md §6, as the
// reference does).
func (ep *endpoint) defaultZone() string { return ZoneDefault }

// pipeline returns the endpoint's pipeline, building it on first use, or
// nil once the endpoint is closed.
func (ep *endpoint) pipeline() *pipeline.Pipeline {
	ep.once.Do(ep.build)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return nil
	}
	return ep.p
}

// build assembles the chain of DESIGN.md §2 for this endpoint:
//
//	await → [throttle] → [mux] → [sign] → encode → transmit (ws or http)
//
// The leading steps run in the caller's goroutine (pipeline.New fuses them
// there); the transmit stage is the only goroutine boundary on the way
// out. The throttle is the endpoint's limit zone, a gate: a call it admits
// goes on inline; one it parks is resumed later by the pipeline's resume
// worker. The zone "unlimited" adds no step.
func (ep *endpoint) build() {
	cfg := ep.cfg
	cd := codec.JSON
	dec := stage.NewDecoder(cd)
	if ep.verify != nil {
		dec = stage.NewVerifyingDecoder(cd, ep.verify)
	}
	ep.retry = stage.NewRetry(cfg.retryCount)
	var p *pipeline.Pipeline
	fail := func(c *pipeline.Call, err error) { p.Fail(c, err) }

	steps := []pipeline.Step{pipeline.T("await", stage.Await(cfg.callTimeout))}
	if ep.zone != nil {
		steps = append(steps, pipeline.G("throttle", ep.zone))
	}
	var transmit pipeline.Step
	opts := []pipeline.Option{
		pipeline.WithFailover(func(c *pipeline.Call, err error) bool { return ep.retry.Take(p, c, err) }),
		pipeline.OnClose(ep.retry.Close),
	}
	if ep.multiplexed() {
		ep.mux = stage.NewMux(dec, fail)
		steps = append(steps, pipeline.T("mux", ep.mux.Assign))
		ws := sink.NewWebSocket(sink.WSConfig{
			URL:         ep.url,
			TLS:         cfg.tls,
			DialTimeout: cfg.dialTimeout,
			ReadLimit:   int64(cfg.maxMessage),
			Receive:     ep.mux.Receive,
			Lost:        ep.mux.FailSent,
			Fail:        fail,
		})
		transmit = pipeline.S("transmit", ws, 1)
		opts = append(opts, pipeline.OnClose(ep.mux.Close), pipeline.WithDirect(ws.TryDirect))
	} else {
		ep.http = sink.NewHTTP(sink.HTTPConfig{
			URL:         ep.url,
			ContentType: cd.ContentType(),
			TLS:         cfg.tls,
			MaxConns:    cfg.maxConns,
			MaxResponse: int64(cfg.maxMessage),
			DialTimeout: cfg.dialTimeout,
			Finish: func(c *pipeline.Call, body []byte) error {
				if err := dec.Envelope(body, &c.Rsp); err != nil {
					return err
				}
				dec.Finish(c)
				return nil
			},
			Fail: fail,
		})
		transmit = pipeline.S("transmit", ep.http, ep.http.Workers())
		opts = append(opts, pipeline.OnClose(ep.http.CloseIdle))
	}
	if ep.signer != nil {
		steps = append(steps, pipeline.T("sign", stage.Sign(ep.signer)))
	}
	steps = append(steps, pipeline.T("encode", stage.Encode(cd, cfg.maxMessage)), transmit)
	p = pipeline.New(steps, opts...)

	ep.mu.Lock()
	ep.p = p
	ep.mu.Unlock()
}

// close closes the pipeline if it was ever built; every call in it
// completes.
func (ep *endpoint) close() {
	ep.mu.Lock()
	ep.closed = true
	p := ep.p
	ep.mu.Unlock()
	if p != nil {
		_ = p.Close()
	}
}
