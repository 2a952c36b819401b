//go:build !noftnpipe

package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
)

// ftnpipe-ws and ftnpipe-http: the ftnpipe invoker (a SimpleCCM: no spec,
// results as decoded maps) calling iface.Call(ctx, "echo", {"msg": s})
// against the ftnpipe executor, which answers {"msg": s}. The executor
// serves HTTP POST and the WS upgrade on the same path.
//
// Build with -tags noftnpipe to leave these cases out (e.g. while the root
// package does not compile).

const (
	ftnIface   = "bench.echo"
	ftnIfaceV  = ftnIface + ":1.0"
	ftnPath    = "/ftn"
	ftnPartKey = "ftnpipe"
)

func ftnEcho(_ context.Context, req *executor.Request) (any, error) {
	return map[string]any{"msg": req.Params["msg"]}, nil
}

type ftnClient struct {
	c       *ccm.CCM
	iface   *ccm.Iface
	onClose func() error
}

func (f *ftnClient) call(ctx context.Context) error {
	res, err := f.iface.Call(ctx, "echo", map[string]any{"msg": payload})
	if err != nil {
		return err
	}
	if m, ok := res.(map[string]any); !ok || m["msg"] != payload {
		return errMismatch(res)
	}
	return nil
}

func (f *ftnClient) close() error {
	err := f.c.Close()
	if f.onClose != nil {
		if cerr := f.onClose(); err == nil {
			err = cerr
		}
	}
	return err
}

// ftnpipe-ws-hmac is ftnpipe-ws with every request MAC-signed
// ("-smac:bench", HS256) and every response signed and verified: the cost
// of message signing end to end, in the same run as ftnpipe-ws.
const benchMACKey = "YmVuY2ggTUFDIGtleSwgMzIgYnl0ZXMgbG9uZyEhISE=" // "bench MAC key, 32 bytes long!!!!"

// dialFtn registers ifacever at the endpoint url(addr) in a new CCM. A
// CCM option (Coder) is given as a RegisterOption: it applies to this
// endpoint.
func dialFtn(url func(addr string) string, ifacever string, opts ...ccm.RegisterOption) func(ctx context.Context, addr string, conc int) (client, error) {
	return func(ctx context.Context, addr string, conc int) (client, error) {
		// The zone "unlimited": a benchmark must not be throttled to the
		// default zone's 10 calls/s.
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
		// MaxConns sizes the HTTP keep-alive pool to the callers, as
		// nethttp-json's transport is; WS, tcp and unix multiplex on one
		// connection.
		err := c.Register(ctx, ftnIface, ifacever, url(addr), append([]ccm.RegisterOption{ccm.MaxConns(conc)}, opts...)...)
		if err != nil {
			c.Close()
			return nil, err
		}
		return newFtnClient(c, nil)
	}
}

// newFtnClient wraps c, whose ftnIface is registered, and closes onClose
// after c (the in-process executor of ftnpipe-local).
func newFtnClient(c *ccm.CCM, onClose func() error) (client, error) {
	f := &ftnClient{c: c, onClose: onClose}
	iface, err := c.Iface(ftnIface)
	if err != nil {
		f.close()
		return nil, err
	}
	f.iface = iface
	return f, nil
}

func ftnURL(scheme string) func(addr string) string {
	return func(addr string) string { return scheme + "://" + addr + ftnPath }
}

// ws-raw-ftnexec (diagnostic, only with -cases) is the ws-echo floor client
// speaking FutoIn wire JSON to the ftnpipe executor. With ws-echo and
// ftnpipe-ws it splits ftnpipe-ws's distance from the floor into the
// client's share and the executor's share.

type ftnWireReq struct {
	Rid      string `json:"rid"`
	F        string `json:"f"`
	P        wsMsgP `json:"p"`
	ForceRsp bool   `json:"forcersp"`
}

type wsMsgP struct {
	Msg string `json:"msg"`
}

type ftnWireRsp struct {
	Rid string `json:"rid"`
	R   wsMsgP `json:"r"`
	E   string `json:"e"`
}

var ftnWireFraming = wsFraming{
	encode: func(rid string) ([]byte, error) {
		return json.Marshal(ftnWireReq{Rid: rid, F: ftnIfaceV + ":echo", P: wsMsgP{Msg: payload}, ForceRsp: true})
	},
	decode: func(b []byte) (string, string, error) {
		var m ftnWireRsp
		if err := json.Unmarshal(b, &m); err != nil {
			return "", "", err
		}
		if m.E != "" {
			return m.Rid, "error " + m.E, nil // reported as a mismatch
		}
		return m.Rid, m.R.Msg, nil
	},
}

func dialRawFtnExec(ctx context.Context, addr string, _ int) (client, error) {
	return dialWSFloor(ctx, "ws://"+addr+ftnPath, ftnWireFraming)
}

// newBenchExecutor is the executor of every ftnpipe server part: echo
// under bench.echo:1.0, and the MAC key of user "bench".
func newBenchExecutor() (*executor.Executor, error) {
	key, err := mac.DecodeKey(benchMACKey)
	if err != nil {
		return nil, err
	}
	e := executor.New(executor.WithCredentials(executor.Credentials{"bench": {MACKey: key}}))
	if err := e.Register(ftnIfaceV, map[string]executor.Handler{"echo": ftnEcho}); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func init() {
	registerServer(serverPart{
		name: ftnPartKey,
		serve: func(ln net.Listener) (func(), error) {
			e, err := newBenchExecutor()
			if err != nil {
				return nil, err
			}
			mux := http.NewServeMux()
			mux.Handle(ftnPath, e)
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close(); _ = e.Close() }, nil
		},
	})
	ws := ftnURL("ws")
	registerCase(benchCase{name: "ftnpipe-ws", order: 10, server: ftnPartKey, dial: dialFtn(ws, ftnIfaceV)})
	registerCase(benchCase{name: "ftnpipe-http", order: 20, server: ftnPartKey, dial: dialFtn(ftnURL("http"), ftnIfaceV)})
	registerCase(benchCase{name: "ftnpipe-ws-hmac", order: 15, server: ftnPartKey,
		dial: dialFtn(ws, ftnIfaceV, ccm.Credentials("-smac:bench"), ccm.MACKeyBase64(benchMACKey, "HS256"))})
	registerCase(benchCase{name: "ftnpipe-ws-mpck", order: 16, server: ftnPartKey, dial: dialFtn(ws, ftnIfaceV, ccm.Coder("MPCK"))})
	registerCase(benchCase{name: "ftnpipe-ws-cbor", order: 17, server: ftnPartKey, dial: dialFtn(ws, ftnIfaceV, ccm.Coder("CBOR"))})
	registerCase(benchCase{name: "ws-raw-ftnexec", order: 60, server: ftnPartKey, extra: true, dial: dialRawFtnExec})
}
