package stage

import (
	"log/slog"
	"strings"

	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

// MAC is the credential of MAC-signed calls: "-smac:{user}" (FTN8.1
// stateless MAC, usually with HMD5, HS256, HS384, HS512) or the legacy
// "-hmac:{user}" (FTN6, usually with MD5, SHA224, SHA256, SHA384, SHA512).
// It is both the Signer of requests and the Verifier of responses.
//
// Sign runs after the rid is assigned, on every attempt, and sets "sec" to
// "-smac:{user}:{algo}:{base64 MAC}" over the request tree (rid included).
// Verify demands that every response carry a valid signature made with the
// same key and algorithm; a missing or wrong one fails the call with
// SecurityError, never with the response's content. The reference invoker
// accepts an unsigned response carrying a standard error (an executor that
// could not check the request cannot sign its refusal); set
// AcceptUnsignedErrors for that behaviour.
//
// A MAC is safe for concurrent use. Printing it never shows the key.
// Cost: see BenchmarkSignVerify in package mac (HS256, small message:
// about 1 µs for signing a request and checking a signed response, no
// allocation but the "sec" string).
type MAC struct {
	user   string
	kind   string // "-smac" or "-hmac"
	key    *mac.Key
	prefix string // "-smac:user:HS256:"
	// AcceptUnsignedErrors makes Verify accept an unsigned response whose
	// "e" is one of the standard executor errors, as the reference invoker
	// does. Off by default.
	AcceptUnsignedErrors bool
}

// ParseMAC builds a MAC credential from creds ("-smac:user" or
// "-hmac:user"), a secret key and an algorithm name ("" picks the
// default: HS256 for -smac, MD5 for -hmac, as the reference does). It
// returns an InvokerError for another credential form, an empty user, an
// unknown algorithm or an empty key; the error never contains the key.
// Either form takes any supported algorithm (the reference does too).
func ParseMAC(creds string, key []byte, algo string) (*MAC, error) {
	kind, user, ok := strings.Cut(creds, ":")
	if !ok || (kind != "-smac" && kind != "-hmac") {
		return nil, pipeline.NewError(pipeline.InvokerError, `MAC credentials must be "-smac:user" or "-hmac:user"`)
	}
	if user == "" || strings.Contains(user, ":") {
		return nil, pipeline.Errorf(pipeline.InvokerError, "MAC credentials %q need a user name without ':'", kind+":…")
	}
	if algo == "" {
		algo = map[string]string{"-smac": "HS256", "-hmac": "MD5"}[kind]
	}
	k, err := mac.NewKey(algo, key)
	if err != nil {
		return nil, err
	}
	return &MAC{user: user, kind: kind, key: k, prefix: kind + ":" + user + ":" + algo + ":"}, nil
}

// User returns the user name.
func (m *MAC) User() string { return m.user }

// Algorithm returns the MAC algorithm name.
func (m *MAC) Algorithm() string { return m.key.Algorithm() }

// String describes the credential without its key.
func (m *MAC) String() string {
	return m.kind + ":" + m.user + " (" + m.key.Algorithm() + ", key redacted)"
}

// GoString is String, for %#v.
func (m *MAC) GoString() string { return "stage.MAC{" + m.String() + "}" }

// LogValue keeps the key out of log/slog output.
func (m *MAC) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Sign sets c.Req.Sec to the signed credential. It must run after the rid
// is set and before encoding.
func (m *MAC) Sign(c *pipeline.Call) error {
	sec, err := m.key.SignRequestBase64(m.prefix, &c.Req)
	if err != nil {
		return err
	}
	c.Req.Sec = sec
	return nil
}

// standardExecutorErrors are the names an executor may send without them
// being declared (WIRE.md §8.1).
var standardExecutorErrors = map[pipeline.ErrorName]bool{
	pipeline.UnknownInterface: true, pipeline.NotSupportedVersion: true, pipeline.NotImplemented: true,
	pipeline.Unauthorized: true, pipeline.InternalError: true, pipeline.InvalidRequest: true,
	pipeline.DefenseRejected: true, pipeline.PleaseReauth: true, pipeline.SecurityError: true,
}

// Verify checks the response's signature in constant time.
func (m *MAC) Verify(c *pipeline.Call) error {
	rsp := &c.Rsp
	if rsp.Sec == "" {
		if rsp.E != "" && m.AcceptUnsignedErrors && standardExecutorErrors[rsp.E] {
			return nil
		}
		if rsp.E != "" {
			// Say what the peer sent, marked as unverified, without taking it.
			return pipeline.Errorf(pipeline.SecurityError, "response to %s is not signed (unverified peer error: %s)", c.Req.F, rsp.E)
		}
		return pipeline.Errorf(pipeline.SecurityError, "response to %s is not signed", c.Req.F)
	}
	ok, err := m.key.CheckResponse(rsp, rsp.Sec)
	if err != nil {
		return pipeline.Errorf(pipeline.SecurityError, "cannot check the response MAC of %s: %v", c.Req.F, err)
	}
	if !ok {
		return pipeline.Errorf(pipeline.SecurityError, "response MAC mismatch for %s", c.Req.F)
	}
	return nil
}
