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
// and ftnpipe-http are.

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

func init() {
	registerServer(serverPart{
		name: "connect",
		serve: func(ln net.Listener) (func(), error) {
			mux := http.NewServeMux()
			mux.Handle(grpcMethod, connect.NewUnaryHandler(grpcMethod, connectEcho))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close() }, nil
		},
	})
	registerCase(benchCase{
		name:   "connect-go",
		order:  35,
		server: "connect",
		dial: func(_ context.Context, addr string, conc int) (client, error) {
			hc := newPoolClient(conc)
			return &connectClient{
				c:  connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, "http://"+addr+grpcMethod),
				hc: hc,
			}, nil
		},
	})
}
