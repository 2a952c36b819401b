// Package mac computes FutoIn message authentication codes (FTN8 §2.11,
// FTN6 legacy HMAC): the canonical MAC base of a message, the algorithms,
// and keys that sign and verify.
//
// # The MAC base
//
// A MAC covers the decoded message tree, not its bytes, so one signature
// is valid in every codec. The base is written as the spec and the
// reference implementation build it (spec SECURITY.md §3):
//
//   - at every level the keys are visited in ascending order of their
//     UTF-16 code units (JavaScript's default sort), and the top-level
//     "sec" is skipped;
//   - each pair is written key ":" value ";", where a map or an array is
//     written recursively in place (arrays as maps keyed "0", "1", …, those
//     keys sorted as strings, so "10" comes before "2"), a string as its raw
//     UTF-8, []byte as its raw bytes, and anything else as JavaScript would
//     render it (numbers in the shortest round-trip form, 1e+21 from 1e21 up
//     and below 1e-6, -0 as 0);
//   - a pair whose value is null is omitted.
//
// The base is streamed into the hash through a small fixed buffer; it is
// never built as one string. Go values that are not decoded-JSON shapes
// (structs, typed slices) are turned into that shape through the JSON
// codec first, so the base matches what the peer decodes.
//
// # Algorithms
//
// FTN8 names HMD5, HS256, HS384, HS512 (used with "-smac:") and the legacy
// FTN6 names MD5, SHA224, SHA256, SHA384, SHA512 (used with "-hmac:") are
// all HMACs over the named hash. KMAC and SHA-3 are not supported.
//
// # Keys
//
// A [Key] holds a secret and an algorithm; it is safe for concurrent use
// and keeps a pool of initialised HMAC states, so signing allocates
// nothing. Its String, GoString and LogValue methods never show the secret.
// Verification compares in constant time (crypto/subtle, as hmac.Equal
// does), over the Base64 encodings.
package mac
