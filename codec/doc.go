// Package codec turns FutoIn messages into bytes and back.
//
// JSON is the codec every FutoIn peer speaks (FTN3 §1.13). MessagePack and
// CBOR join it in a later release; their 4-byte markers ("MPCK", "CBOR")
// are already recognised by [Detect], which reports them as unsupported
// rather than misreading them as JSON.
//
// Codecs are stateless values, safe for concurrent use. Encoding appends to
// a caller-supplied buffer so the hot path can reuse memory; the JSON
// encoder writes the message envelope and the common value types (maps,
// slices, strings, numbers, booleans, null) itself and falls back to
// encoding/json for anything else. Decoding uses encoding/json and leaves a
// response's result undecoded ([pipeline.Response.RawR]) so that it is
// parsed once, straight into the caller's target.
//
// Callers bound the size of what they decode (64 KiB by default, spec
// WIRE.md §9) before handing bytes to a codec.
package codec
