package ccm

import (
	"crypto/tls"
	"time"

	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/spec"
	"github.com/ftnpipe/ccm/stage"
)

// config is what options set. The CCM holds the defaults; Register copies
// them and applies its own options on top.
type config struct {
	callTimeout  time.Duration
	timeoutSet   bool // CallTimeout was given (in-process endpoints use it only then)
	retryCount   int
	maxConns     int
	maxMessage   int
	dialTimeout  time.Duration
	tls          *tls.Config
	creds        string
	hasCreds     bool
	macKey       []byte
	macKeyErr    error
	macAlgo      string
	hasMACKey    bool
	unsignedOK   bool
	coder        string
	maxRawResult int64  // MaxRawResult (raw.go); 0: none
	limitZone    string // "": the default for the endpoint's kind
	conns        int
	heartbeat    time.Duration
	reconnMin    time.Duration
	reconnMax    time.Duration
	coderSet     bool        // Coder was given (BinaryData keeps it)
	spec         *spec.Iface // AdvancedCCM: the registered interface's definition
}

func defaultConfig() config {
	return config{
		callTimeout: stage.DefaultCallTimeout,
		retryCount:  stage.DefaultRetryCount,
		maxConns:    16,
		maxMessage:  stage.DefaultMaxMessageSize,
		dialTimeout: 10 * time.Second,
		coder:       "JSON",
		conns:       1,
		heartbeat:   DefaultHeartbeat,
	}
}

// RegisterOption configures one endpoint at [CCM.Register].
type RegisterOption interface {
	applyRegister(*config)
}

// Option configures a CCM at [New], giving the default for every endpoint,
// and can also be passed to [CCM.Register] to override that default for
// one endpoint.
type Option interface {
	RegisterOption
	applyCCM(*config)
}

type option func(*config)

func (o option) applyCCM(c *config)      { o(c) }
func (o option) applyRegister(c *config) { o(c) }

type registerOption func(*config)

func (o registerOption) applyRegister(c *config) { o(c) }

// CallTimeout bounds every call, from Call until the result, retries
// included (default 30 s). A deadline on the call's context that comes
// sooner wins. d <= 0 leaves only the context to bound the call.
// In-process endpoints ([CCM.RegisterLocal]) have no call timeout unless
// this option is given (on New or on RegisterLocal), as in the reference
// implementation.
func CallTimeout(d time.Duration) Option {
	return option(func(c *config) { c.callTimeout, c.timeoutSet = d, true })
}

// RetryCount is how many times a call that failed with ConnectError or
// CommError is sent again (default 1, so at most two attempts), with an
// exponential backoff between attempts. A CommError means the peer may
// have received the request, so a retried call can run twice: use 0 for
// calls that must not.
func RetryCount(n int) Option {
	if n < 0 {
		n = 0
	}
	return option(func(c *config) { c.retryCount = n })
}

// MaxConns bounds the HTTP connections per endpoint and so the calls in
// flight to it over HTTP (default 16); that many connections are kept
// alive for reuse. For an in-process endpoint it is how many calls run at
// once (more wait in its queue). WebSocket, TCP and UNIX endpoints ignore
// it: see [Conns].
func MaxConns(n int) Option {
	if n < 1 {
		n = 1
	}
	return option(func(c *config) { c.maxConns = n })
}

// MaxMessageSize bounds request and response messages in bytes (default
// 65536, the FutoIn safety limit). A larger request fails with
// InvokerError before anything is sent; a larger response fails the call
// with CommError. n <= 0 means the default.
func MaxMessageSize(n int) Option {
	if n <= 0 {
		n = stage.DefaultMaxMessageSize
	}
	return option(func(c *config) { c.maxMessage = n })
}

// DialTimeout bounds connecting to an endpoint (default 10 s): the TCP or
// UNIX connect, and for ws:// and wss:// also the TLS and WebSocket
// handshakes. A dial that takes longer fails the calls waiting for it
// with ConnectError.
func DialTimeout(d time.Duration) Option {
	return option(func(c *config) { c.dialTimeout = d })
}

// TLSConfig sets the TLS configuration for https:// and wss:// endpoints,
// e.g. to trust a private CA (a certificate the configuration does not
// trust fails the call with ConnectError; nothing is sent). The CCM does
// not modify it.
func TLSConfig(cfg *tls.Config) Option {
	return option(func(c *config) { c.tls = cfg })
}

// Coder picks the message codec by its FutoIn coder name (default
// "JSON"), the reference's coder option: "JSON", "MPCK" (MessagePack) or
// "CBOR", spelled exactly so. Requests go out in it (HTTP Content-Type
// application/futoin+json, +msgpack or +cbor; WebSocket binary frames)
// and responses are read in whichever of the three codecs the peer
// answers, as their first bytes tell (a peer that cannot read the binary
// codec answers with a JSON error, which is reported as that error; a
// result in another codec is taken if the chosen codec can carry it). Only the
// binary codecs carry []byte values (the FutoIn "data" type); with JSON
// a call that passes []byte fails with InvokerError before anything is
// sent. Results and params decode to the same Go types in every codec.
// An unknown name is an InvokerError at Register. On an [AdvancedCCM], an
// interface that requires BinaryData gets "MPCK" unless this option was
// given (and refuses "JSON").
func Coder(name string) Option {
	return option(func(c *config) { c.coder, c.coderSet = name, true })
}

// Credentials sets the endpoint's credentials, a registration-only option:
//
//   - "user:password": clear text (FTN8.1), split at the first ':' (so the
//     password may contain ':', the user may not; the reference executor
//     refuses such passwords), sent in the "sec" field of every request,
//     never in a URL. Meant for low-value calls over a secure channel.
//   - "-smac:user": every request is signed with a MAC (FTN8.1), key and
//     algorithm from [MACKey] (default algorithm HS256), and every response
//     must carry a valid MAC or the call fails with SecurityError.
//   - "-hmac:user": the legacy FTN6 form of the same, with the legacy
//     algorithm names (default MD5).
//
// Secrets never appear in errors, logs or the output of fmt.
func Credentials(creds string) RegisterOption {
	return registerOption(func(c *config) { c.creds, c.hasCreds = creds, true })
}

// MACKey sets the secret key and algorithm for "-smac:" or "-hmac:"
// credentials (see [Credentials]). algo is usually one of HMD5, HS256,
// HS384, HS512 for -smac and MD5, SHA224, SHA256, SHA384, SHA512 for -hmac
// (either form accepts any of them, as the reference does); "" picks the
// default (HS256 for -smac, MD5 for -hmac). An unknown algorithm or an
// empty key is an InvokerError at Register, not at call time. The key is
// copied.
func MACKey(key []byte, algo string) RegisterOption {
	k := append([]byte(nil), key...)
	return registerOption(func(c *config) { c.macKey, c.macAlgo, c.hasMACKey, c.macKeyErr = k, algo, true, nil })
}

// MACKeyBase64 is MACKey with the key in standard Base64, as FutoIn
// configurations carry it (the reference's macKey option). Decoding is
// strict: a malformed key is an InvokerError at Register (the error never
// shows the key).
func MACKeyBase64(b64, algo string) RegisterOption {
	key, err := mac.DecodeKey(b64)
	return registerOption(func(c *config) { c.macKey, c.macAlgo, c.hasMACKey, c.macKeyErr = key, algo, true, err })
}

// AcceptUnsignedErrors relaxes the check of MAC-signed calls the way the
// reference invoker does: a response without a signature is accepted when
// it carries one of the standard executor errors (an executor that could
// not verify a request cannot sign its refusal). Without it, any unsigned
// response to a signed request is a SecurityError.
func AcceptUnsignedErrors() RegisterOption {
	return registerOption(func(c *config) { c.unsignedOK = true })
}

// LimitZone makes calls go through the named limit zone (see
// [CCM.LimitZone]). Given to [New] it is the default for every endpoint;
// given to [CCM.Register] it applies to that endpoint. Without it, external
// endpoints (http, https, ws, wss) use the zone "default" (8 calls at once,
// 32 waiting, 10 calls per second) and in-process ones "unlimited". A zone
// that does not exist when Register runs is an InvokerError there.
func LimitZone(name string) Option {
	return option(func(c *config) { c.limitZone = name })
}
