// Command ftngen generates typed Go code from FutoIn interface definitions
// (FTN3 "iface" specs): per interface, a typed client built on ccm.Iface,
// a server interface with a registration helper for executor.Executor,
// the custom types, and the declared errors as constants.
//
// Usage, typically from a go:generate line in the package that gets the code:
//
//	//go:generate go run github.com/ftnpipe/ccm/cmd/ftngen -dir ../specs -iface example.calc:1.0 -o calc_ftn.go
//
// Flags:
//
//	-dir path      directory of {iface}-{major.minor}-iface.json files; repeatable
//	               and comma-separated, searched in order (bases and imports are
//	               found there too)
//	-iface i:v     interfaces to generate, repeatable and comma-separated; by
//	               default every definition in the first -dir, sorted
//	-name i:v=Go   the Go name of an interface (default: the last dot-separated
//	               part of its name, exported: "com.example.calc" → "Calc")
//	-o file        output file (default: standard output)
//	-pkg name      package name (default: $GOPACKAGE, which go generate sets)
//	-client=false  leave out the clients
//	-server=false  leave out the server interfaces and registration helpers
//
// Definitions are loaded with package spec (spec.Set), so inheritance and
// imports are resolved and checked exactly as at run time: the generated API
// covers inherited and imported functions and types, and a definition the
// spec package refuses is refused here with the same error.
//
// # What is generated, for an interface whose Go name is Calc
//
//   - CalcIfaceVer, the "iface:major.minor" it was generated from.
//   - For each declared error E that is not a standard name: the constant
//     CalcE of type ccm.ErrorName and the sentinel ErrCalcE, so both
//     errors.Is(err, ErrCalcE) and ccm.NameOf(err) == CalcE read naturally.
//   - For each custom type T: CalcT (see the mapping below).
//   - For each function f with result variables: CalcFResult, a struct with
//     the variables as fields (json tags with the wire names).
//   - CalcClient, made by NewCalcClient(*ccm.Iface): one method per
//     function, ctx first, then the parameters in definition order, returning
//     the result struct, the result type or nothing, and an error. It uses
//     Iface.CallInto, which decodes the result straight into the Go value.
//     Its Iface method returns the ccm.Iface (left out when the interface
//     has a function called "iface", whose method takes the name). Each
//     method F also has an AsyncSteps form, FSteps(as, params...), which adds
//     a step making the call (Iface.CallStepsInto); the next step receives a
//     pointer to the typed result (left out when another function's method
//     is named FSteps). Raw data functions differ; see below.
//   - CalcServer, the interface a service implements (the same methods), and
//     RegisterCalcServer(ex, srv), which registers one executor.Handler per
//     function. Each handler applies the defaults, checks the request against
//     the spec in the Executor role (a bad request never reaches srv: it is
//     answered InvalidRequest with the spec package's message), converts the
//     parameters to their Go types, calls srv, and turns an error name the
//     function does not declare into InternalError. The definitions
//     themselves are embedded in the generated file (compact JSON) and
//     loaded once, on the first registration.
//
// # Raw data functions ("rawupload", "rawresult")
//
//   - Client, "rawupload" without "rawresult": F(ctx, params..., body
//     io.Reader) returns the typed result (or error) as for other
//     functions. It calls Iface.Upload (the params go in the URL query, body
//     is the request body, nil uploads nothing) and converts the generic
//     result to the Go type through encoding/json, as the server side
//     converts parameters; a result that does not fit is InternalError.
//   - Client, "rawresult": F(ctx, params...[, body io.Reader when also
//     "rawupload"]) (io.ReadCloser, error), through Iface.Download; the
//     caller closes the stream. No result struct is generated.
//   - Raw functions have no FSteps form (a comment says so).
//   - Server: the method takes the parameters, then body io.Reader (the
//     upload; nil when the request carries none, always for a function
//     without "rawupload") and, for "rawresult", out *executor.RawOutput,
//     where it writes the result (returning only an error). RegisterCalcServer
//     registers them with Executor.RegisterRaw, once, beside the other
//     functions' Register.
//   - Parameters of a URL-mapped request arrive as strings. Before the
//     defaults and the spec check, the handler decodes as JSON text the
//     string value of every parameter not declared as a string (string, a
//     custom string type, an enum of strings keep theirs): "3" → 3,
//     "true" → true, "[1,2]" → [1 2], which is what the client sends
//     for such values and what HTTP.md §3 asks (integer, number and
//     boolean parse the same as with strconv). A value that does not
//     decode stays a string and the spec check refuses it with
//     InvalidRequest. A variant or "any" parameter whose string happens to
//     be valid JSON is decoded too: the URL carries no type, so "1" is the
//     number. An Executor made WithSpecs is not consulted: the generated
//     code uses its own embedded definitions.
//   - Parameter names "body", "out", "io" and "executor" of raw functions
//     get a trailing "_".
//
// Names: functions, fields and errors are exported in CamelCase
// ("MY_ERROR" → MyError); every type, result and error name is prefixed
// with the interface's Go name, so several interfaces (or a base and the
// interface inheriting from it) can share a package. Parameters that are Go
// keywords or clash with the generated code's locals get a trailing "_".
// Enum items that export to the same name do too. Where two top-level names
// would clash, the later one gets a suffix, in this order of precedence:
// the fixed names (CalcIfaceVer, CalcClient, CalcServer, ...), results,
// errors (suffix "Error"), types (suffix "Type": a custom type "Client"
// becomes CalcClientType).
//
// # Type mapping
//
//	FTN3                         Go
//	boolean                      bool
//	integer                      int (the spec limits it to 32 bits; a larger
//	                             value fails the check)
//	number                       float64
//	string                       string
//	data                         []byte
//	any                          any
//	map (no fields)              map[string]any, or map[string]E with elemtype E
//	map with fields (custom)     struct; optional fields are pointers, or nil
//	                             slices/maps/any, all with omitempty; an
//	                             elemtype beside fields is checked on the wire only
//	array                        []any, or []E with elemtype E
//	enum with string items       named string type with one constant per item
//	enum with integer items      named int type with one constant per item
//	enum mixing both             any
//	set                          []CalcTItem with the item type and constants as
//	                             for enum (mixed items: []any)
//	variant ["A", "B"]           any (the doc comment names the members)
//	custom scalar or array type  an alias of the mapped type (type CalcT = int),
//	                             its constraints (min, max, minlen, maxlen, regex)
//	                             in the doc comment and checked on the server
//
// Optional parameters (those with a default) are pointers in the client (or
// nil slices, maps and any): nil leaves the parameter out and the executor
// applies the default. In the server interface a parameter whose default is
// not null has its plain type, since the default is applied before the call;
// one whose default is null stays nilable.
//
// # Choices and limits
//
//   - Raw data calls travel over HTTP only (a ws:// endpoint's raw calls
//     use its http:// form, see package ccm); a "data" parameter cannot go
//     in a URL query, so Upload refuses it with InvokerError.
//   - The client checks nothing the Go types do not: values outside a
//     spec's min/max/regex/length are sent and the executor refuses them
//     with InvalidRequest. The client sends nothing but what CallInto sends,
//     so with the SimpleCCM every call, including a function without a
//     result, waits for a response.
//   - Results a server returns are sent as they are; they are not checked
//     against the spec before sending.
//   - A server method sees ctx and its parameters, not the executor.Request
//     (user, rid): register a hand-written handler where a function needs
//     them.
//   - "data" parameters need a binary codec; the JSON codec refuses []byte.
//   - The generated code is gofmt-formatted; the golden files in testdata
//     are rewritten with go test ./cmd/ftngen -run TestGolden -update.
//
// Cost (examples/typedcalc, go test -run '^$' -bench 'GeneratedVsIface|GeneratedServer'
// -benchtime 2000x -count 8, medians, on a shared 2-core machine over a
// loopback WebSocket): a generated client call costs the same as Iface.Call
// within noise (interleaved generated/Call ratio 1.01; about 88 µs per call
// either way, 43 allocations per call for both); the generated registration
// (spec check, defaults, typed conversion) against a hand-written handler
// for the same function: ratio 1.03.
package main
