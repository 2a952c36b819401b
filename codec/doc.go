// Package codec turns FutoIn messages into bytes and back.
//
// Three codecs, chosen per endpoint: [JSON] (the one every FutoIn peer
// speaks, FTN3 §1.13), [MsgPack] and [CBOR]. A binary message is its
// 4-byte ASCII marker ("MPCK", "CBOR") followed by one encoded map; the
// marker is how [Detect] tells the codecs apart, in HTTP bodies and
// WebSocket frames alike. [ByName] and [ByContentType] find a codec by
// its coder name or HTTP media type (both the application/futoin+X and
// the application/vnd.futoin+X forms).
//
// Codecs are stateless values, safe for concurrent use. Encoding appends to
// a caller-supplied buffer so the hot path can reuse memory. Decoding
// leaves a response's result undecoded ([pipeline.Response.RawR], which
// aliases the input) so that it is parsed once, straight into the
// caller's target.
//
// # One set of rules, three codecs
//
// The binary codecs check envelopes exactly as JSON does (unknown request
// keys, "r" and "e" together, a non-string "rid", a missing "f" or "p" are
// refused; a non-string "sec" counts as none) and decode into the same
// generic values, so a handler or caller sees the same Go types whatever
// the peer chose:
//
//   - maps are map[string]any (a binary map with a non-string key is
//     refused), arrays []any, strings string, booleans bool, nil for
//     nil/null (and CBOR's undefined);
//   - numbers are float64, as JSON gives them; only integers beyond ±2^53,
//     which a float64 cannot hold exactly, stay int64 (or uint64 above
//     MaxInt64) so that nothing is lost;
//   - byte strings (MessagePack bin, CBOR major type 2) are []byte, copied
//     out of the input: the FutoIn "data" type. JSON cannot carry []byte
//     and refuses to encode it with an error that says so.
//
// Encoding writes the generic types and every Go integer and float type
// natively; a float64 holding an integer is written as an integer (as a
// JavaScript peer writes its numbers), a float32 as its shortest decimal
// value (as JSON and the MAC base read it). Other values (structs, typed
// maps and slices) go through encoding/json first, so their `json` tags
// apply and every codec, and the MAC base, sees the same tree. DecodeValue
// into a target other than *any uses the codec library
// (vmihailenco/msgpack, fxamacker/cbor) with `json` struct tags, and
// follows that library's rules for the Go types.
//
// MessagePack extension types and CBOR tags are refused: FutoIn messages
// have no use for them, and refusing keeps the three codecs equivalent.
//
// # Limits
//
// Callers bound the size of what they decode (64 KiB by default, spec
// WIRE.md §9) before handing bytes to a codec. Within a message, every
// decoder bounds nesting at 10000 levels, and the binary decoders check
// every declared length (string, byte string, array, map) against the
// bytes that remain before they allocate anything, and reserve at most a
// few slots per container up front (so nested length claims cannot add
// up to depth × size): vmihailenco/msgpack
// trusts declared array lengths when decoding into any (DESIGN.md §6), so
// MessagePack is read by our own walker and the library only ever sees
// bytes the walker has accepted. fxamacker/cbor (typed targets only) runs
// with tags forbidden, nesting at 10000 and element counts at 2^24, far
// above what fits in a message, so the size limit is the one that binds.
package codec
