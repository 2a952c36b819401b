// Package sockio holds the system-level helpers that the WebSocket
// transport (package sink) and the executor share: a single non-blocking
// write on a socket. Both use it to send what is buffered without ever
// making a caller wait on a peer that does not read. It also defines the
// control words (Ping, Pong) of the stream framing, which both sides of a
// TCP or UNIX connection must read the same way.
package sockio
