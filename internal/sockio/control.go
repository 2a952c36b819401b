package sockio

// Control frames of the TCP and UNIX stream framing (sink package doc). A
// frame's 4-byte big-endian length word with the top bit set is not a
// length but a control word, and no message bytes follow it. Messages are
// far below 2 GiB, so the two never clash. Both words are defined here
// because the invoker's stream transport (package sink) and the
// executor's stream server must agree on them.
const (
	// ControlBit marks a control word.
	ControlBit uint32 = 1 << 31
	// Ping asks the peer to answer with Pong as soon as it reads it; the
	// invoker sends it on a connection that has been silent too long.
	Ping uint32 = ControlBit | 1
	// Pong answers Ping. It is never answered.
	Pong uint32 = ControlBit | 2
)
