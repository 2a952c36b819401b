package sink

import "net"

// NewCorkConn exposes corkConn to the tests.
func NewCorkConn(c net.Conn) interface {
	net.Conn
	Cork()
	Uncork() error
} {
	return &corkConn{Conn: c}
}
