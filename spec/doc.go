// Package spec loads FutoIn interface definitions (FTN3 "iface" specs)
// and compiles them into checkers for requests, results and errors.
//
// A [Set] finds definitions in its sources: file systems ([FS], [Dir];
// an embed.FS works) holding files named "{iface}-{major.minor}-iface.json",
// and definitions given as JSON text ([JSON]). [Set.Iface] loads an
// interface with its base ("inherit") and its imports, checks them against
// each other, compiles every type once, and keeps the result. An [Iface]
// has [Func] values whose methods check a call:
//
//	set := spec.Load(specsFS)                         // or spec.LoadDir("specs")
//	iface, err := set.Iface("com.example.svc:1.2")
//	f, err := iface.Func("charge")
//	p = f.ApplyDefaults(p)
//	err = f.CheckParams(p)                           // before sending
//	err = f.CheckResult(r)                           // after decoding "r"
//	err = f.CheckError(name, desc)                   // after decoding "e"
//
// The checks take what the codecs decode into: map[string]any, []any,
// string, bool, nil, float64 and the other Go number kinds, json.Number,
// and []byte for "data". Go values a caller builds (other slices, maps
// with string keys, named string or number types) are accepted too,
// through reflection; the spec itself is never walked per call. For the
// reference's testFunc, params and result together cost about 0.15 µs and
// no allocation (BenchmarkCheck).
//
// Errors are [pipeline.Error] values named as the reference names them,
// with its messages: a bad definition is an InternalError, except a
// malformed inherit or import reference and two majors of one import,
// which are InvokerErrors as there; a bad request is an InvokerError in
// the [Invoker] role and InvalidRequest in the [Executor] role; a bad
// result or an undeclared error is an InternalError.
//
// Choices where the spec or the reference is silent, or where we differ
// from the reference (REFERENCE-JS §11):
//
//   - "integer" is a value that is integral and fits int32, as in the
//     reference ("32-bit precision"); 1.0 and 1e2 are integers. "number"
//     is any finite float64; NaN and infinities are refused.
//   - String minlen/maxlen count runes (the reference counts UTF-16 code
//     units; they agree on the Basic Multilingual Plane). "regex" is RE2
//     (Go's regexp), matched anywhere in the string like JS String.match;
//     a pattern RE2 cannot compile is a load error naming the type.
//   - Enum and set items keep strings and integers apart: 10 and "10"
//     are different items (the reference compares them as object keys).
//     A set value must not repeat an item. A bare "enum" or "set" as a
//     param, field or result type is refused at load (the reference loads
//     it and then fails every value).
//   - An optional param that is absent or null takes its default
//     ([Func.ApplyDefaults]); defaults are not type-checked, as in the
//     reference. The receiver of a message fills missing optional map
//     fields with null: the Executor for requests, the Invoker for results
//     (the reference's invoker skips that; the spec asks for it).
//   - Unknown result variables are dropped by the Invoker and refused by
//     the Executor, as in the reference.
//   - Overriding params are compared by type, not by how the type is
//     written: "a": "string" and "a": {"type": "string"} match (the
//     reference compares the written form).
//   - ftn3rev feature gates look at the definition's own text: a file
//     inheriting from a newer one is judged by what it writes itself (the
//     reference checks the merged result).
//   - Variants are gated at FTN3 1.6 inside map fields and elemtype too
//     (the reference checks only params, results and types). A variant as
//     a function's whole result is loaded, as the reference does.
//   - Recursion through map fields or array elements (a tree of trees) is
//     allowed; a chain of aliases that loops is "Custom type recursion".
//     A loop of inherits or imports is an error (the reference would not
//     finish loading).
//   - A file that is not valid JSON stops the search with an error; a
//     file whose "iface" or "version" differs from its name is skipped.
//   - A type-mismatch message shows scalars cut to 64 bytes, and maps,
//     arrays and data only by kind, so messages do not carry whole
//     structures that may hold secrets.
//   - Minor versions compare as numbers in [Iface.Implements] (the
//     reference compares strings, so 1.10 would not satisfy 1.9).
//
// Concurrency: a [Set] is safe for concurrent use; [Iface], [Func] and
// [Type] are immutable. CheckParams (Executor role) and CheckResult
// (Invoker role) may write missing optional fields, and CheckResult in
// the Invoker role deletes unknown result variables, into the message's
// own maps; give each goroutine its own message.
package spec
