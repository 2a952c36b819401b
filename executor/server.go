package executor

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an Executor listening on its own TCP socket, made by
// [Executor.Listen] or, with TLS, [Executor.ListenTLS]. It serves the
// Executor on every path, over HTTP POST and WebSocket. Its methods are
// safe for concurrent use.
type Server struct {
	e         *Executor
	ln        net.Listener
	tls       bool
	hs        *http.Server
	sc        *scope
	serveDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Listen starts serving the Executor on addr ("host:port"; "" means
// "127.0.0.1:0", a free loopback port) and returns once the socket
// listens. The caller closes the Server with [Server.Close] (or
// [Executor.Close]). It fails when the address cannot be bound or the
// Executor is closed.
func (e *Executor) Listen(addr string) (*Server, error) {
	return e.listen(addr, nil)
}

// ListenTLS is [Executor.Listen] over TLS with cfg, which must hold a
// certificate (cfg.Certificates or GetCertificate); the Server then serves
// https:// and wss:// ([Server.HTTPURL] and [Server.WSURL] say so), which
// count as secure channels (spec INVOKER.md §4). The handshake runs on the
// connection's goroutine, bounded like the request header (10 s). cfg is
// not modified after ListenTLS returns; HTTP/2 is not offered.
func (e *Executor) ListenTLS(addr string, cfg *tls.Config) (*Server, error) {
	if cfg == nil || len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("executor: ListenTLS needs a tls.Config with a certificate")
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	return e.listen(addr, cfg)
}

func (e *Executor) listen(addr string, cfg *tls.Config) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &Server{e: e, ln: ln, tls: cfg != nil, sc: newScope(e), serveDone: make(chan struct{})}
	s.hs = &http.Server{
		Handler:           s.sc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	e.servers[s] = struct{}{}
	go func() {
		defer close(s.serveDone)
		_ = s.hs.Serve(ln)
	}()
	return s, nil
}

// Addr returns the address the Server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// HTTPURL returns the endpoint URL for HTTP POST, "http://host:port/"
// ("https://" with TLS).
func (s *Server) HTTPURL() string { return s.scheme("http") + s.ln.Addr().String() + "/" }

// WSURL returns the endpoint URL for WebSocket, "ws://host:port/"
// ("wss://" with TLS).
func (s *Server) WSURL() string { return s.scheme("ws") + s.ln.Addr().String() + "/" }

func (s *Server) scheme(plain string) string {
	if s.tls {
		return plain + "s://"
	}
	return plain + "://"
}

// Close stops the Server: it stops accepting connections, closes the HTTP
// connections, cancels the contexts of running handlers, closes each
// WebSocket connection (close status 1001, "executor closing"; calls in
// flight on it get no answer or InternalError "request cancelled"), and
// waits for every handler and goroutine of this Server to return. A
// handler that ignores its context delays Close until it returns, and a
// WebSocket peer that does not answer the close frame delays it up to 5 s
// (all connections are closed in parallel). Close is
// idempotent; later and concurrent calls wait for the first and return
// its result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.hs.Close()
		<-s.serveDone
		s.sc.close()
		s.e.mu.Lock()
		delete(s.e.servers, s)
		s.e.mu.Unlock()
	})
	return s.closeErr
}
