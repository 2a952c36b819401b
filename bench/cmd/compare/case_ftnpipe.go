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
	c     *ccm.CCM
	iface *ccm.Iface
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

func (f *ftnClient) close() error { return f.c.Close() }

// ftnpipe-ws-hmac is ftnpipe-ws with every request MAC-signed
// ("-smac:bench", HS256) and every response signed and verified: the cost
// of message signing end to end, in the same run as ftnpipe-ws.
const benchMACKey = "YmVuY2ggTUFDIGtleSwgMzIgYnl0ZXMgbG9uZyEhISE=" // "bench MAC key, 32 bytes long!!!!"

func dialFtn(scheme string, opts ...ccm.RegisterOption) func(ctx context.Context, addr string, conc int) (client, error) {
	return func(ctx context.Context, addr string, conc int) (client, error) {
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.LimitZone(ccm.ZoneUnlimited))
		// MaxConns sizes the HTTP keep-alive pool to the callers, as
		// nethttp-json's transport is; WS multiplexes on one connection.
		err := c.Register(ctx, ftnIface, ftnIfaceV, scheme+"://"+addr+ftnPath, append([]ccm.RegisterOption{ccm.MaxConns(conc)}, opts...)...)
		if err != nil {
			c.Close()
			return nil, err
		}
		iface, err := c.Iface(ftnIface)
		if err != nil {
			c.Close()
			return nil, err
		}
		return &ftnClient{c: c, iface: iface}, nil
	}
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

func init() {
	registerServer(serverPart{
		name: ftnPartKey,
		serve: func(ln net.Listener) (func(), error) {
			key, err := mac.DecodeKey(benchMACKey)
			if err != nil {
				return nil, err
			}
			e := executor.New(executor.WithCredentials(executor.Credentials{"bench": {MACKey: key}}))
			if err := e.Register(ftnIfaceV, map[string]executor.Handler{"echo": ftnEcho}); err != nil {
				return nil, err
			}
			mux := http.NewServeMux()
			mux.Handle(ftnPath, e)
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close(); _ = e.Close() }, nil
		},
	})
	registerCase(benchCase{name: "ftnpipe-ws", order: 10, server: ftnPartKey, dial: dialFtn("ws")})
	registerCase(benchCase{name: "ftnpipe-http", order: 20, server: ftnPartKey, dial: dialFtn("http")})
	registerCase(benchCase{name: "ftnpipe-ws-hmac", order: 15, server: ftnPartKey,
		dial: dialFtn("ws", ccm.Credentials("-smac:bench"), ccm.MACKeyBase64(benchMACKey, "HS256"))})
	registerCase(benchCase{name: "ws-raw-ftnexec", order: 60, server: ftnPartKey, extra: true, dial: dialRawFtnExec})
}
