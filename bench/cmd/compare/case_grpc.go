package main

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpc-go unary: one hand-written service with one method that echoes a
// wrapperspb.StringValue. No protoc: the ServiceDesc below is what
// protoc-gen-go-grpc would generate for
//
//	service Echo { rpc Echo(google.protobuf.StringValue) returns (google.protobuf.StringValue); }

const grpcMethod = "/ftnpipe.bench.Echo/Echo"

type echoService interface {
	Echo(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

type grpcEcho struct{}

func (grpcEcho) Echo(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(in.GetValue()), nil
}

func grpcEchoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(echoService).Echo(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: grpcMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(echoService).Echo(ctx, req.(*wrapperspb.StringValue))
	}
	return interceptor(ctx, in, info, handler)
}

var grpcServiceDesc = grpc.ServiceDesc{
	ServiceName: "ftnpipe.bench.Echo",
	HandlerType: (*echoService)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Echo", Handler: grpcEchoHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    "bench.proto",
}

type grpcClient struct{ cc *grpc.ClientConn }

func (c *grpcClient) call(ctx context.Context) error {
	in := wrapperspb.String(payload)
	out := new(wrapperspb.StringValue)
	if err := c.cc.Invoke(ctx, grpcMethod, in, out); err != nil {
		return err
	}
	if out.GetValue() != payload {
		return errMismatch(out.GetValue())
	}
	return nil
}

func (c *grpcClient) close() error { return c.cc.Close() }

func init() {
	registerServer(serverPart{
		name: "grpc",
		serve: func(ln net.Listener) (func(), error) {
			s := grpc.NewServer()
			s.RegisterService(&grpcServiceDesc, grpcEcho{})
			go func() { _ = s.Serve(ln) }()
			return s.Stop, nil
		},
	})
	registerCase(benchCase{
		name:   "grpc-go",
		order:  30,
		server: "grpc",
		// One ClientConn (one HTTP/2 connection) shared by all callers:
		// what a grpc-go application does.
		dial: func(_ context.Context, addr string, _ int) (client, error) {
			cc, err := grpc.NewClient("passthrough:///"+addr,
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return nil, err
			}
			return &grpcClient{cc: cc}, nil
		},
	})
}
