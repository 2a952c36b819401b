// Package sockio holds the one system-level helper that the WebSocket
// transport (package sink) and the executor share: a single non-blocking
// write on a socket. Both use it to send what is buffered without ever
// making a caller wait on a peer that does not read.
package sockio
