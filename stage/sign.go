package stage

import (
	"log/slog"
	"strings"

	"github.com/ftnpipe/ccm/pipeline"
)

// Signer fills the "sec" field of a request. It runs after the rid is
// assigned and before encoding, and again on every retry, so a signature
// may cover the rid (MAC signers in a later release rely on that).
type Signer interface {
	Sign(c *pipeline.Call) error
}

// Sign returns the transform that runs s on every attempt.
func Sign(s Signer) pipeline.Transform {
	return s.Sign
}

// Password is the clear-text "user:password" credential (FTN8.1, spec
// INVOKER.md §3.2): sent verbatim in "sec". The user is everything before
// the first ':', the password everything after it, so a password may
// contain ':' but a user name may not.
//
// Its String and GoString methods redact the password, so printing a
// Password (or a struct holding one) never shows the secret.
type Password struct {
	user string
	// sec is "user:password", precomputed so signing does not allocate. It
	// sits behind a pointer so that fmt, which cannot call String on an
	// unexported field of an enclosing struct, prints an address, never
	// the secret.
	sec *string
}

// ParsePassword splits "user:password" at the first ':'. It fails when
// there is no ':' or the user is empty, or the user starts with '-' (those
// names are reserved for MAC and internal credentials). The error never
// contains the secret.
func ParsePassword(creds string) (Password, error) {
	user, secret, ok := strings.Cut(creds, ":")
	switch {
	case !ok:
		return Password{}, pipeline.NewError(pipeline.InvokerError, `credentials must have the form "user:password"`)
	case user == "":
		return Password{}, pipeline.NewError(pipeline.InvokerError, "credentials have an empty user name")
	case user[0] == '-':
		return Password{}, pipeline.Errorf(pipeline.InvokerError, "credentials %q are not supported yet (user names starting with '-' are reserved)", user+":…")
	}
	sec := user + ":" + secret
	return Password{user: user, sec: &sec}, nil
}

// User returns the user name.
func (p Password) User() string { return p.user }

// Sign sets "sec" to "user:password".
func (p Password) Sign(c *pipeline.Call) error {
	c.Req.Sec = *p.sec
	return nil
}

// String returns "user:***".
func (p Password) String() string { return p.user + ":***" }

// LogValue keeps the secret out of log/slog output.
func (p Password) LogValue() slog.Value { return slog.StringValue(p.String()) }

// GoString returns the same redacted form for %#v.
func (p Password) GoString() string { return "stage.Password{" + p.String() + "}" }
