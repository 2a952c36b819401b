package ccm

import (
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/sink"
	"github.com/ftnpipe/ccm/stage"
)

// endpoint is one registration's connection to its peer: its URL, options,
// credentials and, once the first call is made, its pipeline.
type endpoint struct {
	url    string // without any secure+ prefix
	scheme string // http, https, ws, wss, tcp, unix; "" in process
	addr   string // tcp: host:port; unix: the socket's path
	secure bool
	local  pipeline.Handler // in process: the executor
	cfg    config
	signer stage.Signer   // nil: anonymous
	verify stage.Verifier // MAC credentials: checks every response
	codec  pipeline.Codec // the Coder option's
	zone   *stage.Zone    // nil: the zone "unlimited", no throttle step

	// name, ifaceVer and emit report connect and disconnect events; set
	// by CCM.add before the endpoint is published.
	name, ifaceVer string
	emit           func(Event)
	// anonymous: an in-process endpoint of an AllowAnonymous interface
	// without credentials sends no "-internal" (AdvancedCCM).
	anonymous bool

	once   sync.Once
	mu     sync.Mutex // guards closed and p across start/close
	closed bool
	p      *pipeline.Pipeline
	mux    *stage.Mux
	retry  *stage.Retry
	http   *sink.HTTP
	raw    rawLane // raw data calls (raw.go)
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
	addr := u.Host
	switch scheme {
	case "http", "ws", "tcp":
	case "https", "wss", "unix":
		// unix: a socket on this machine, reachable only through the file
		// system's permissions: SecureChannel per INVOKER.md §4.
		secure = true
	default:
		return nil, pipeline.Errorf(pipeline.InvokerError, "unknown endpoint scheme %q", u.Scheme)
	}
	switch {
	case scheme == "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, pipeline.NewError(pipeline.InvokerError, `a unix endpoint is "unix:///absolute/path/to/socket"`)
		}
		addr = u.Path
	case u.Host == "":
		return nil, pipeline.Errorf(pipeline.InvokerError, "endpoint URL %s has no host", u.Redacted())
	case scheme == "tcp" && (u.Port() == "" || u.Hostname() == "" || u.Path != "" && u.Path != "/" || u.RawQuery != ""):
		return nil, pipeline.NewError(pipeline.InvokerError, `a tcp endpoint is "tcp://host:port"`)
	}
	cd, ok := codec.ByName(cfg.coder)
	if !ok {
		return nil, pipeline.Errorf(pipeline.InvokerError, `unknown coder %q: use "JSON", "MPCK" or "CBOR"`, cfg.coder)
	}
	ep := &endpoint{url: u.String(), scheme: scheme, addr: addr, secure: secure, cfg: cfg, codec: cd}
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

// localEndpoint returns the endpoint of an in-process executor h. Its
// channel is internal: secure, and without credentials its calls carry
// "-internal" (INVOKER.md §3.2); MAC credentials make no sense on it.
func localEndpoint(h pipeline.Handler, cfg config) (*endpoint, error) {
	if h == nil {
		return nil, pipeline.NewError(pipeline.InvokerError, "RegisterLocal needs a handler (an *executor.Executor)")
	}
	if cfg.hasMACKey || strings.HasPrefix(cfg.creds, "-smac:") || strings.HasPrefix(cfg.creds, "-hmac:") {
		return nil, pipeline.NewError(pipeline.InvokerError, "in-process endpoints take no MAC credentials: the channel is internal")
	}
	ep := &endpoint{url: "internal:", secure: true, local: h, cfg: cfg}
	if cfg.hasCreds && cfg.creds == internalCreds {
		ep.cfg.creds, ep.cfg.hasCreds = "", false
	}
	if err := ep.credentials(); err != nil {
		return nil, err
	}
	return ep, nil
}

// internalCreds is what in-process calls without credentials send.
const internalCreds = "-internal"

// setInternal is the transform that marks a call of an in-process
// endpoint without credentials as internal.
func setInternal(c *pipeline.Call) error {
	c.Req.Sec = internalCreds
	return nil
}

func (ep *endpoint) multiplexed() bool {
	switch ep.scheme {
	case "ws", "wss", "tcp", "unix":
		return true
	}
	return false
}

// defaultZone is the limit zone of an endpoint registered without the
// LimitZone option: "default" for every external endpoint, "unlimited"
// for in-process ones (INVOKER.md §6, as the reference does).
func (ep *endpoint) defaultZone() string {
	if ep.local != nil {
		return ZoneUnlimited
	}
	return ZoneDefault
}

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
//	await → [throttle] → [mux] → [sign] → encode → transmit (ws, tcp, unix or http)
//
// The leading steps run in the caller's goroutine (pipeline.New fuses them
// there); the transmit stage is the only goroutine boundary on the way
// out. The throttle is the endpoint's limit zone, a gate: a call it admits
// goes on inline; one it parks is resumed later by the pipeline's resume
// worker. The zone "unlimited" adds no step.
func (ep *endpoint) build() {
	if ep.local != nil {
		ep.buildLocal()
		return
	}
	cfg := ep.cfg
	cd := ep.codec
	dec := stage.NewDecoder(cd)
	if ep.verify != nil {
		dec = stage.NewVerifyingDecoder(cd, ep.verify)
	}
	ep.retry = stage.NewRetry(cfg.retryCount)
	var p *pipeline.Pipeline
	fail := func(c *pipeline.Call, err error) { p.Fail(c, err) }

	steps := append(ep.validate(), pipeline.T("await", stage.Await(cfg.callTimeout)))
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
		var tx interface {
			pipeline.Stage
			TryDirect(*pipeline.Call) bool
		}
		if ep.scheme == "tcp" || ep.scheme == "unix" {
			tx = sink.NewStream(sink.StreamConfig{
				Network:     ep.scheme,
				Address:     ep.addr,
				DialTimeout: cfg.dialTimeout,
				ReadLimit:   cfg.maxMessage,
				Receive:     ep.mux.Receive,
				Lost:        ep.mux.FailVia,
				Healing:     cfg.healing(),
				OnState:     ep.connState,
				Fail:        fail,
			})
		} else {
			tx = sink.NewWebSocket(sink.WSConfig{
				URL:         ep.url,
				TLS:         cfg.tls,
				DialTimeout: cfg.dialTimeout,
				ReadLimit:   int64(cfg.maxMessage),
				Receive:     ep.mux.Receive,
				Lost:        ep.mux.FailVia,
				Healing:     cfg.healing(),
				OnState:     ep.connState,
				Fail:        fail,
			})
		}
		transmit = pipeline.S("transmit", tx, 1)
		opts = append(opts, pipeline.OnClose(ep.mux.Close), pipeline.WithDirect(tx.TryDirect))
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
	steps = append(steps, pipeline.T("encode", stage.Encode(cd, cfg.maxMessage)))
	if cfg.spec != nil {
		steps = append(steps, pipeline.T("reqsize", checkReqSize))
	}
	steps = append(steps, transmit)
	p = pipeline.New(steps, opts...)

	ep.mu.Lock()
	ep.p = p
	ep.mu.Unlock()
}

// buildLocal assembles the chain of an in-process endpoint:
//
//	await → [sign | -internal] → transmit (in process, MaxConns workers)
//
// A call made from inside a handler of the endpoint (with its context)
// does not wait for a worker: it runs on a goroutine of its own
// (sink.InProc.TryNested), so nested calls cannot deadlock the workers.
// Nothing is encoded and there is no rid, no mux and no retry (a call
// cannot be lost between here and the executor). The call timeout applies
// only when one was set explicitly ([CallTimeout]); otherwise the
// caller's context alone bounds the call, as in the reference
// implementation.
func (ep *endpoint) buildLocal() {
	cfg := ep.cfg
	timeout := time.Duration(0)
	if cfg.timeoutSet {
		timeout = cfg.callTimeout
	}
	steps := append(ep.validate(), pipeline.T("await", stage.Await(timeout)))
	if ep.zone != nil { // only when a LimitZone option chose one: the default is "unlimited"
		steps = append(steps, pipeline.G("throttle", ep.zone))
	}
	switch {
	case ep.signer != nil:
		steps = append(steps, pipeline.T("sign", stage.Sign(ep.signer)))
	case ep.anonymous:
	default:
		steps = append(steps, pipeline.T("internal", setInternal))
	}
	inproc := sink.NewInProc(ep.local)
	steps = append(steps, pipeline.S("transmit", inproc, cfg.maxConns))
	p := pipeline.New(steps, pipeline.WithUrgent(inproc.TryNested), pipeline.OnClose(inproc.Close))
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
	ep.closeRaw()
}

// validate returns the leading "validate" step of an AdvancedCCM
// endpoint, or nothing.
func (ep *endpoint) validate() []pipeline.Step {
	if ep.cfg.spec == nil {
		return nil
	}
	return []pipeline.Step{pipeline.T("validate", newValidator(ep.cfg.spec).validate)}
}
