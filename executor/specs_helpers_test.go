package executor_test

// The fixture of the spec-check tests: an Executor with interface
// definitions, served over every transport, and one way to call it per
// transport.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// The definitions. test.chk is open to anonymous callers and exercises
// params, results, errors, seclvl and limits; the others each carry one
// constraint.
var specDocs = []string{`{
	"iface": "test.chk", "version": "1.0", "ftn3rev": "1.8",
	"requires": ["AllowAnonymous"],
	"types": {
		"Small": {"type": "integer", "min": 0, "max": 100},
		"Opts": {"type": "map", "fields": {"x": {"type": "string", "optional": true}}}
	},
	"funcs": {
		"add": {
			"params": {"a": {"type": "Small"}, "b": {"type": "integer"}, "c": {"type": "integer", "default": 10}},
			"result": {"sum": {"type": "integer"}}
		},
		"opts": {"params": {"o": {"type": "Opts"}}, "result": {"o": {"type": "Opts"}}},
		"note": {"params": {"msg": {"type": "string"}}},
		"fail": {"params": {"name": {"type": "string"}}, "result": {"ok": {"type": "boolean"}}, "throws": ["MyError"]},
		"wrong": {"params": {"kind": {"type": "string"}}, "result": {"ok": {"type": "string"}}},
		"word": {"result": "string"},
		"who": {"result": {
			"user": {"type": "string"}, "lvl": {"type": "string"},
			"secure": {"type": "boolean"}, "channel": {"type": "string"}}},
		"safe": {"result": {"lvl": {"type": "string"}}, "seclvl": "SafeOps"},
		"priv": {"result": {"lvl": {"type": "string"}}, "seclvl": "PrivilegedOps"},
		"sys": {"result": {"lvl": {"type": "string"}}, "seclvl": "System"},
		"sized": {
			"params": {"n": {"type": "integer"}, "pad": {"type": "string", "default": ""}},
			"result": {"s": {"type": "string"}},
			"maxreqsize": "100B", "maxrspsize": "1K"
		},
		"raw": {"rawresult": true},
		"missing": {"result": {"ok": {"type": "boolean"}}}
	}
}`, constrained("test.sec", `"SecureChannel", "AllowAnonymous"`),
	constrained("test.sig", `"MessageSignature", "AllowAnonymous"`),
	constrained("test.auth", ``),
	constrained("test.bidi", `"BiDirectChannel", "AllowAnonymous"`),
}

// constrained is an interface with one function, who, and the given
// "requires" list.
func constrained(name, requires string) string {
	return `{"iface": "` + name + `", "version": "1.0", "ftn3rev": "1.2", "requires": [` + requires + `],
	"funcs": {"who": {"result": {
		"user": {"type": "string"}, "lvl": {"type": "string"},
		"secure": {"type": "boolean"}, "channel": {"type": "string"}}}}}`
}

var checkedIfaces = []string{"test.chk:1.0", "test.sec:1.0", "test.sig:1.0", "test.auth:1.0", "test.bidi:1.0"}

func specSet() *spec.Set {
	opts := []spec.Option{spec.WithRole(spec.Executor)}
	for _, d := range specDocs {
		opts = append(opts, spec.JSON([]byte(d)))
	}
	return spec.New(opts...)
}

// fixture is an Executor serving the definitions above on every transport.
type fixture struct {
	ex      *executor.Executor
	reached sync.Map // function name → *atomic.Int64: handler calls
	hookMu  sync.Mutex
	hooked  []string // WithErrorHook reports
	peers   []peer
}

func (f *fixture) count(fn string) *atomic.Int64 {
	v, _ := f.reached.LoadOrStore(fn, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// hooks returns the error hook reports so far.
func (f *fixture) hooks() string {
	f.hookMu.Lock()
	defer f.hookMu.Unlock()
	return strings.Join(f.hooked, "\n")
}

func (f *fixture) handlers() map[string]executor.Handler {
	who := func(_ context.Context, req *executor.Request) (any, error) {
		return map[string]any{"user": req.User, "lvl": req.SecLvl, "secure": req.Secure, "channel": req.Channel}, nil
	}
	lvl := func(_ context.Context, req *executor.Request) (any, error) {
		return map[string]any{"lvl": req.SecLvl}, nil
	}
	hs := map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			// Defaults are applied: c is always there.
			sum := req.Params["a"].(float64) + req.Params["b"].(float64) + req.Params["c"].(float64)
			return map[string]any{"sum": sum}, nil
		},
		"opts": func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"o": req.Params["o"]}, nil
		},
		"note": func(_ context.Context, req *executor.Request) (any, error) {
			if req.Params["msg"] == "fail" {
				return nil, pipeline.NewError(pipeline.InvalidRequest, "no")
			}
			return nil, nil
		},
		"fail": func(_ context.Context, req *executor.Request) (any, error) {
			switch name := req.Params["name"].(string); name {
			case "plain":
				return nil, errors.New("db password=hunter2")
			default:
				return nil, pipeline.NewError(pipeline.ErrorName(name), "the desc")
			}
		},
		"wrong": func(_ context.Context, req *executor.Request) (any, error) {
			switch req.Params["kind"] {
			case "type":
				return map[string]any{"ok": 1}, nil
			case "missing":
				return map[string]any{}, nil
			case "extra":
				return map[string]any{"ok": "x", "more": "secret"}, nil
			case "nil":
				return nil, nil
			}
			return map[string]any{"ok": "fine"}, nil
		},
		"word": func(context.Context, *executor.Request) (any, error) { return "w", nil },
		"who":  who,
		"safe": lvl,
		"priv": lvl,
		"sys":  lvl,
		"sized": func(_ context.Context, req *executor.Request) (any, error) {
			return map[string]any{"s": strings.Repeat("x", int(req.Params["n"].(float64)))}, nil
		},
		"raw": func(context.Context, *executor.Request) (any, error) { return nil, nil },
	}
	for fn, h := range hs {
		hs[fn] = func(ctx context.Context, req *executor.Request) (any, error) {
			f.count(req.Iface + ":" + fn).Add(1)
			return h(ctx, req)
		}
	}
	return hs
}

// newFixture starts the Executor on HTTP, HTTPS (and WS, WSS on the same
// ports), TCP and UNIX sockets, and as an in-process handler.
func newFixture(t *testing.T, opts ...executor.Option) *fixture {
	t.Helper()
	is := is.New(t)
	f := &fixture{}
	opts = append([]executor.Option{
		executor.WithSpecs(specSet()),
		executor.WithCredentials(credStore()),
		executor.WithErrorHook(func(_ *executor.Request, err error) {
			f.hookMu.Lock()
			f.hooked = append(f.hooked, err.Error())
			f.hookMu.Unlock()
		}),
	}, opts...)
	f.ex = executor.New(opts...)
	hs := f.handlers()
	for _, iv := range checkedIfaces {
		funcs := map[string]executor.Handler{"who": hs["who"]}
		if iv == "test.chk:1.0" {
			funcs = hs
			delete(funcs, "missing")
		}
		is.NoErr(f.ex.Register(iv, funcs)) // register with a definition
	}
	t.Cleanup(func() { _ = f.ex.Close() })

	plain, err := f.ex.Listen("")
	is.NoErr(err) // listen
	srvCfg, pool := testCert(t)
	secure, err := f.ex.ListenTLS("", srvCfg)
	is.NoErr(err) // listen TLS
	tcp, err := f.ex.ListenTCP("")
	is.NoErr(err) // listen TCP
	unix, err := f.ex.ListenUnix(filepath.Join(t.TempDir(), "ftn.sock"))
	is.NoErr(err) // listen UNIX
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(tlsClient.CloseIdleConnections)

	f.peers = []peer{
		&httpPeer{name: "http", url: plain.HTTPURL(), client: http.DefaultClient},
		&httpPeer{name: "https", url: secure.HTTPURL(), client: tlsClient, secure: true},
		&wsPeer{name: "ws", conn: dial(t, plain.WSURL())},
		&wsPeer{name: "wss", conn: dialWith(t, secure.WSURL(), tlsClient), secure: true},
		&streamPeerFTN{name: "tcp", p: dialStream(t, tcp)},
		&streamPeerFTN{name: "unix", p: dialStream(t, unix), secure: true},
		&inprocPeer{ex: f.ex},
	}
	return f
}

// each runs fn for every transport as a subtest.
func (f *fixture) each(t *testing.T, fn func(t *testing.T, p peer)) {
	for _, p := range f.peers {
		t.Run(p.String(), func(t *testing.T) { fn(t, p) })
	}
}

// msg is a request as the tests write it; the peer adds the rid and, with
// mac set, signs it as alice (HS256).
type msg struct {
	f     string
	p     map[string]any
	sec   string
	mac   bool
	force bool
}

// answer is a decoded reply.
type answer struct {
	R     any // JSON-shaped: maps, []any, float64, ...
	E     string
	EDesc string
	None  bool // no reply at all
}

type peer interface {
	String() string
	// call sends m and returns its reply. With probe set, it then sends a
	// quick call and reports None when the probe's reply comes first (no
	// reply to m: a void call without forcersp).
	call(t *testing.T, m msg, probe bool) answer
	// isSecure tells whether the Executor must see a secure channel.
	isSecure() bool
	stateful() bool
	channel() string
}

func (m msg) request(t *testing.T, rid string) *pipeline.Request {
	t.Helper()
	// Params in the shapes a decoder (or the in-process sink) gives.
	p := map[string]any{}
	b, err := json.Marshal(m.p)
	is.New(t).NoErr(err)
	is.New(t).NoErr(json.Unmarshal(b, &p))
	r := &pipeline.Request{F: m.f, P: p, Rid: rid, ForceRsp: m.force, Sec: m.sec}
	if m.mac {
		k, err := mac.NewKey("HS256", aliceKey)
		is.New(t).NoErr(err)
		sum, err := k.SignRequest(nil, r)
		is.New(t).NoErr(err)
		r.Sec = "-smac:alice:HS256:" + string(mac.AppendBase64(nil, sum))
	}
	return r
}

func encode(t *testing.T, r *pipeline.Request) []byte {
	t.Helper()
	b, err := codec.JSON.AppendRequest(nil, r)
	is.New(t).NoErr(err) // encode request
	return b
}

func toAnswer(t *testing.T, raw []byte) answer {
	t.Helper()
	var m struct {
		R     any    `json:"r"`
		E     string `json:"e"`
		EDesc string `json:"edesc"`
	}
	is.New(t).NoErr(json.Unmarshal(raw, &m)) // reply is JSON
	return answer{R: m.R, E: m.E, EDesc: m.EDesc}
}

type httpPeer struct {
	name   string
	url    string
	client *http.Client
	secure bool
}

func (p *httpPeer) String() string  { return p.name }
func (p *httpPeer) isSecure() bool  { return p.secure }
func (p *httpPeer) stateful() bool  { return false }
func (p *httpPeer) channel() string { return executor.ChannelHTTP }

func (p *httpPeer) call(t *testing.T, m msg, _ bool) answer {
	t.Helper()
	is := is.New(t)
	rsp, err := p.client.Post(p.url, "application/futoin+json", bytes.NewReader(encode(t, m.request(t, ""))))
	is.NoErr(err) // POST
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	is.NoErr(err)
	is.Equal(rsp.StatusCode, http.StatusOK)
	if len(b) == 0 {
		is.Equal(rsp.Header.Get("Content-Type"), "") // not a FutoIn message
		return answer{None: true}
	}
	return toAnswer(t, b)
}

type wsPeer struct {
	name   string
	conn   *websocket.Conn
	secure bool
	rid    atomic.Int64
}

func (p *wsPeer) String() string  { return p.name }
func (p *wsPeer) isSecure() bool  { return p.secure }
func (p *wsPeer) stateful() bool  { return true }
func (p *wsPeer) channel() string { return executor.ChannelWS }

func (p *wsPeer) call(t *testing.T, m msg, probe bool) answer {
	t.Helper()
	return muxCall(t, m, probe, &p.rid, func(b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		is.New(t).NoErr(p.conn.Write(ctx, websocket.MessageBinary, b)) // ws write
	}, func() []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, b, err := p.conn.Read(ctx)
		is.New(t).NoErr(err) // ws read
		return b
	})
}

// muxCall is a call on a multiplexed channel: write the request (and a
// probe), read replies by rid.
func muxCall(t *testing.T, m msg, probe bool, rid *atomic.Int64, write func([]byte), read func() []byte) answer {
	t.Helper()
	id := "C" + strconv.FormatInt(rid.Add(1), 10)
	write(encode(t, m.request(t, id)))
	probeID := ""
	if probe {
		probeID = "C" + strconv.FormatInt(rid.Add(1), 10)
		write(encode(t, msg{f: "test.chk:1.0:word"}.request(t, probeID)))
	}
	for {
		b := read()
		var env struct {
			Rid string `json:"rid"`
		}
		is.New(t).NoErr(json.Unmarshal(b, &env))
		switch env.Rid {
		case id:
			a := toAnswer(t, b)
			if probe {
				read() // the probe's reply
			}
			return a
		case probeID:
			return answer{None: true}
		}
		t.Fatalf("reply with an unexpected rid: %s", b)
	}
}

type streamPeerFTN struct {
	name   string
	p      *streamPeer
	secure bool
	rid    atomic.Int64
}

func (p *streamPeerFTN) String() string { return p.name }
func (p *streamPeerFTN) isSecure() bool { return p.secure }
func (p *streamPeerFTN) stateful() bool { return true }
func (p *streamPeerFTN) channel() string {
	if p.name == "unix" {
		return executor.ChannelUNIX
	}
	return executor.ChannelTCP
}

func (p *streamPeerFTN) call(t *testing.T, m msg, probe bool) answer {
	t.Helper()
	return muxCall(t, m, probe, &p.rid, func(b []byte) { p.p.write(frame(string(b))) }, func() []byte {
		b, err := json.Marshal(p.p.read())
		is.New(t).NoErr(err)
		return b
	})
}

type inprocPeer struct{ ex *executor.Executor }

func (p *inprocPeer) String() string  { return "inproc" }
func (p *inprocPeer) isSecure() bool  { return true }
func (p *inprocPeer) stateful() bool  { return true }
func (p *inprocPeer) channel() string { return executor.ChannelInternal }

func (p *inprocPeer) call(t *testing.T, m msg, _ bool) answer {
	t.Helper()
	var rsp pipeline.Response
	p.ex.ServeInternal(context.Background(), m.request(t, ""), &rsp)
	if rsp.E != "" {
		return answer{E: string(rsp.E), EDesc: rsp.EDesc}
	}
	b, err := json.Marshal(rsp.R) // the JSON shape, as the sockets give
	is.New(t).NoErr(err)
	var r any
	is.New(t).NoErr(json.Unmarshal(b, &r))
	return answer{R: r}
}

func dialWith(t *testing.T, url string, client *http.Client) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	is.New(t).NoErr(err) // dial
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// testCert returns a server TLS config with a fresh self-signed ECDSA
// certificate for 127.0.0.1, and a pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	is := is.New(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	is.NoErr(err)
	cert, err := x509.ParseCertificate(der)
	is.NoErr(err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
