package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// connect-go unary: the grpc-go case's service and message
// (ftnpipe.bench.Echo/Echo, wrapperspb.StringValue) served and called with
// connect's generic NewUnaryHandler and NewClient, written by hand (no
// protoc, nothing generated): the Connect protocol, binary protobuf, over
// HTTP/1.1 with a keep-alive pool sized to the callers, as nethttp-json
// and ftnpipe-http are (connect-go), or over one unencrypted HTTP/2
// connection (h2c) as grpc-go's ClientConn is (connect-go-h2c). The one
// server part speaks both.
//
// Both sides set WithCompressMinBytes(connectCompressMin): connect's
// default (0) gzips every response, 16-byte echoes included, which its own
// docs advise against and which no other case does.

const connectCompressMin = 1024

func connectEcho(_ context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
	return connect.NewResponse(wrapperspb.String(req.Msg.GetValue())), nil
}

type connectClient struct {
	c  *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
	hc *http.Client
}

func (c *connectClient) call(ctx context.Context) error {
	res, err := c.c.CallUnary(ctx, connect.NewRequest(wrapperspb.String(payload)))
	if err != nil {
		return err
	}
	if res.Msg.GetValue() != payload {
		return errMismatch(res.Msg.GetValue())
	}
	return nil
}

func (c *connectClient) close() error {
	c.hc.CloseIdleConnections()
	return nil
}

func dialConnect(h2c bool) func(ctx context.Context, addr string, conc int) (client, error) {
	return func(_ context.Context, addr string, conc int) (client, error) {
		hc := newPoolClient(conc)
		if h2c {
			tr := hc.Transport.(*http.Transport)
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true) // and nothing else: one multiplexed connection
		}
		return &connectClient{
			c: connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, "http://"+addr+grpcMethod,
				connect.WithCompressMinBytes(connectCompressMin)),
			hc: hc,
		}, nil
	}
}

func init() {
	registerServer(serverPart{
		name: "connect",
		serve: func(ln net.Listener) (func(), error) {
			mux := http.NewServeMux()
			mux.Handle(grpcMethod, connect.NewUnaryHandler(grpcMethod, connectEcho,
				connect.WithCompressMinBytes(connectCompressMin)))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close() }, nil
		},
	})
	registerCase(benchCase{name: "connect-go", order: 35, server: "connect", dial: dialConnect(false)})
	registerCase(benchCase{name: "connect-go-h2c", order: 36, server: "connect", dial: dialConnect(true)})
}
