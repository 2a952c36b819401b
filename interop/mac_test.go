//go:build interop

package interop_test

// MAC-signed calls from the ftnpipe invoker to the reference executor
// (server.js): legacy -hmac, checked and signed by the reference's own
// LegacySecurityProvider and #basicauth service, and FTN8.1 -smac, checked
// and signed by server.js's SmacSecurityProvider with the reference's MAC
// code (SpecTools.genHMACRaw, the function the reference invoker signs with).

import (
	"context"
	"fmt"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// The keys of server.js (HMAC_KEY, SMAC_KEY, OTHER_KEY, WRONG_KEY), strict
// standard Base64.
const (
	// hmacuser (-hmac), 32 bytes.
	hmacKey = "d1LlU76iNmkl4XIZ4oFw9YoJd8lSZEWJqTsuwFyEfbw="
	// smacuser, smacliar, smacmute (-smac), 64 bytes.
	smacKey = "Vz5LMXn7mqF0mEKbW46FLGv9bJSSFz+cTGbCAkKOVJ+Edl0yzgDFBngy/atb0e+hRFBnt2m037zCSvoolwxVzg=="
	// otheruser (-hmac and -smac), 32 bytes.
	otherKey = "6ll0IkRsJ4Ty1RLSyNYOEDUnACWSgod0m8LorSB2AY8="
	// Nobody's key.
	wrongKey = "X35zm4l4g7HiA/sAwszhojzeK20KxVuhMR+tPKRgdAA="
)

const macIface = "ftnpipe.mac:1.0"

// What the reference answers to a MAC it cannot verify (wrong key, wrong
// user, unknown user, bad algorithm): HTTP 200 and an UNSIGNED SecurityError,
// {"e":"SecurityError","edesc":...} (plus the rid over WS), without "sec".
const (
	// LegacySecurityProvider._checkMAC (reference code).
	hmacRefusedDesc = "Legacy Signature Verification Failed"
	// SmacSecurityProvider in server.js (ours; the stock executor has none).
	smacRefusedDesc = "Stateless MAC Verification Failed"
	// A MAC-verified user's security level: BasicAuthService.checkHMAC grants
	// it to -hmac users, server.js to -smac users.
	macSecLvl = "PrivilegedOps"
)

var (
	legacyAlgos = []string{"MD5", "SHA224", "SHA256", "SHA384", "SHA512"}
	ftn8Algos   = []string{"HMD5", "HS256", "HS384", "HS512"}
)

// notSigned is the Desc our invoker gives an unsigned error reply to a
// signed request (without AcceptUnsignedErrors).
func notSigned(iface, fn string, peerErr ccm.ErrorName) string {
	return fmt.Sprintf("response to %s:%s is not signed (unverified peer error: %s)", iface, fn, peerErr)
}

// mirrorParams goes through the MAC base both ways: unsorted keys, keys
// that sort differently by case, non-ASCII, nulls (skipped), empty
// containers, an array of 11 (indexes sort as strings: 10 before 2),
// numbers that JavaScript prints as 1e-7 and 123456789012. The same values
// as in client.js.
func mirrorParams() map[string]any {
	return map[string]any{
		"m": map[string]any{
			"b":    true,
			"a":    "x",
			"Z":    -1.5,
			"é":    "ü",
			"big":  123456789012,
			"tiny": 1e-7,
			"nested": map[string]any{
				"gone":  nil,
				"arr":   []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
				"empty": map[string]any{},
				"none":  []any{},
			},
		},
		"l": []any{"s", 2, nil, map[string]any{"x": 1}, []any{}, false},
	}
}

// mirrorWant is mirrorParams as decoded from the reply.
func mirrorWant() map[string]any {
	return map[string]any{
		"m": map[string]any{
			"b":    true,
			"a":    "x",
			"Z":    -1.5,
			"é":    "ü",
			"big":  float64(123456789012),
			"tiny": 1e-7,
			"nested": map[string]any{
				"gone":  nil,
				"arr":   []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0},
				"empty": map[string]any{},
				"none":  []any{},
			},
		},
		"l": []any{"s", 2.0, nil, map[string]any{"x": 1.0}, []any{}, false},
	}
}

// macCalls runs the ftnpipe.mac calls of a verified user: every reply is
// signed by the reference and checked by our invoker.
func macCalls(t *testing.T, svc *ccm.Iface, user string) {
	t.Helper()
	is := is.NewRelaxed(t)

	r, err := call(t, svc, "whoami", nil)
	is.NoErr(err)
	is.Equal(r["login"], user)

	r, err = call(t, svc, "echo", map[string]any{"msg": "hello, 世界; a:b"})
	is.NoErr(err)
	is.Equal(r["msg"], "hello, 世界; a:b")

	r, err = call(t, svc, "echo", map[string]any{"msg": "with a note", "note": "ñ"})
	is.NoErr(err)
	is.Equal(r["msg"], "with a note")

	r, err = call(t, svc, "add", map[string]any{"a": 0.1, "b": 0.2})
	is.NoErr(err)
	is.Equal(r["sum"], 0.30000000000000004) // float64 0.1+0.2, not the constant 0.3

	r, err = call(t, svc, "add", map[string]any{"a": 1e21, "b": 1})
	is.NoErr(err)
	is.Equal(r["sum"], 1e21) // signed as 1e+21

	r, err = call(t, svc, "mirror", mirrorParams())
	is.NoErr(err)
	is.Equal(r, mirrorWant())

	// A declared error comes signed, like a result.
	_, err = call(t, svc, "fail", nil)
	fe := futoinError(t, err)
	is.Equal(string(fe.Name), declaredName)
	is.Equal(fe.Desc, declaredDesc)
	is.True(fe.Remote)
}

// TestHMACToReference: legacy -hmac with each legacy algorithm, checked and
// signed by the reference's LegacySecurityProvider.
func TestHMACToReference(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		for _, algo := range legacyAlgos {
			t.Run(algo, func(t *testing.T) {
				is := is.New(t)
				opts := []ccm.RegisterOption{ccm.Credentials("-hmac:hmacuser"), ccm.MACKeyBase64(hmacKey, algo)}

				sec := register(t, scheme, secureIface, opts...)
				r, err := call(t, sec, "whoami", nil)
				is.NoErr(err)
				is.Equal(r["login"], "hmacuser") // the user reached the service
				is.Equal(r["seclvl"], macSecLvl)

				macCalls(t, register(t, scheme, macIface, opts...), "hmacuser")
			})
		}
	})
}

// TestSMACToReference: FTN8.1 -smac with each FTN8 algorithm, checked and
// signed with the reference's MAC code.
func TestSMACToReference(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		for _, algo := range ftn8Algos {
			t.Run(algo, func(t *testing.T) {
				is := is.New(t)
				opts := []ccm.RegisterOption{ccm.Credentials("-smac:smacuser"), ccm.MACKeyBase64(smacKey, algo)}

				sec := register(t, scheme, secureIface, opts...)
				r, err := call(t, sec, "whoami", nil)
				is.NoErr(err)
				is.Equal(r["login"], "smacuser")
				is.Equal(r["seclvl"], macSecLvl)

				macCalls(t, register(t, scheme, macIface, opts...), "smacuser")
			})
		}
		// The other user, with a 32-byte key: the peer picks the key by user.
		t.Run("otheruser", func(t *testing.T) {
			macCalls(t, register(t, scheme, macIface,
				ccm.Credentials("-smac:otheruser"), ccm.MACKeyBase64(otherKey, "HS256")), "otheruser")
		})
	})
}

// TestMACRefusedByReference: the peer really checks the MAC. A request it
// cannot verify is refused with an unsigned SecurityError, which our invoker
// does not take as the peer's word (it cannot be authenticated) unless
// AcceptUnsignedErrors is set, as the reference invoker does.
func TestMACRefusedByReference(t *testing.T) {
	cases := []struct {
		name, creds, key, algo, desc string
	}{
		{"hmac wrong key", "-hmac:hmacuser", wrongKey, "SHA256", hmacRefusedDesc},
		{"hmac other user's key", "-hmac:hmacuser", otherKey, "SHA256", hmacRefusedDesc},
		{"hmac key of another user", "-hmac:otheruser", hmacKey, "SHA256", hmacRefusedDesc},
		{"hmac unknown user", "-hmac:nobody", hmacKey, "MD5", hmacRefusedDesc},
		{"smac wrong key HS256", "-smac:smacuser", wrongKey, "HS256", smacRefusedDesc},
		{"smac wrong key HS512", "-smac:smacuser", wrongKey, "HS512", smacRefusedDesc},
		{"smac key of another user", "-smac:otheruser", smacKey, "HS256", smacRefusedDesc},
		{"smac unknown user", "-smac:nobody", smacKey, "HS512", smacRefusedDesc},
		// The right key, but the peer knows hmacuser's key only for -hmac.
		{"smac for an hmac user", "-smac:hmacuser", hmacKey, "HS256", smacRefusedDesc},
	}

	forEachTransport(t, func(t *testing.T, scheme string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				is := is.New(t)
				creds := []ccm.RegisterOption{ccm.Credentials(tc.creds), ccm.MACKeyBase64(tc.key, tc.algo)}

				// Strict (default): an unsigned refusal is our SecurityError.
				for _, iface := range []string{secureIface, macIface} {
					_, err := call(t, register(t, scheme, iface, creds...), "whoami", nil)
					fe := futoinError(t, err)
					is.Equal(fe.Name, ccm.SecurityError)
					is.Equal(fe.Desc, notSigned(iface, "whoami", ccm.SecurityError))
					is.True(!fe.Remote) // our verdict, not the peer's
				}

				// Relaxed: the peer's SecurityError itself.
				relaxed := append(creds, ccm.AcceptUnsignedErrors())
				svc := register(t, scheme, macIface, relaxed...)
				for _, fn := range []string{"whoami", "fail"} {
					_, err := call(t, svc, fn, nil)
					fe := futoinError(t, err)
					is.Equal(fe.Name, ccm.SecurityError)
					is.Equal(fe.Desc, tc.desc)
					is.True(fe.Remote)
				}
			})
		}
	})
}

// TestMACResponseCheck: replies from a peer that accepted the request but
// signs wrongly or not at all (server.js users smacliar and smacmute) fail
// with SecurityError, AcceptUnsignedErrors or not.
func TestMACResponseCheck(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		for _, relaxed := range []bool{false, true} {
			t.Run(fmt.Sprintf("AcceptUnsignedErrors=%v", relaxed), func(t *testing.T) {
				is := is.New(t)
				opts := func(user string) []ccm.RegisterOption {
					o := []ccm.RegisterOption{ccm.Credentials("-smac:" + user), ccm.MACKeyBase64(smacKey, "HS256")}
					if relaxed {
						o = append(o, ccm.AcceptUnsignedErrors())
					}
					return o
				}

				liar := register(t, scheme, macIface, opts("smacliar")...)
				for _, fn := range []string{"whoami", "fail"} {
					_, err := call(t, liar, fn, nil)
					fe := futoinError(t, err)
					is.Equal(fe.Name, ccm.SecurityError)
					is.Equal(fe.Desc, fmt.Sprintf("response MAC mismatch for %s:%s", macIface, fn))
					is.True(!fe.Remote)
				}

				mute := register(t, scheme, macIface, opts("smacmute")...)
				_, err := call(t, mute, "whoami", nil)
				fe := futoinError(t, err)
				is.Equal(fe.Name, ccm.SecurityError)
				is.Equal(fe.Desc, fmt.Sprintf("response to %s:whoami is not signed", macIface))
				is.True(!fe.Remote)

				// MyError is not a standard error: never accepted unsigned.
				_, err = call(t, mute, "fail", nil)
				fe = futoinError(t, err)
				is.Equal(fe.Name, ccm.SecurityError)
				is.Equal(fe.Desc, notSigned(macIface, "fail", declaredName))
				is.True(!fe.Remote)
			})
		}
	})
}

// TestMACConcurrent: signed calls at once on one CCM. Over WS they share a
// connection, each with its own rid in the MAC base, and the replies come
// back out of order.
func TestMACConcurrent(t *testing.T) {
	const n = 32

	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, macIface, ccm.Credentials("-smac:smacuser"), ccm.MACKeyBase64(smacKey, "HS512"))
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()

		errs := make(chan error, n)
		for i := range n {
			go func() {
				res, err := svc.Call(ctx, "add", map[string]any{"a": i, "b": 0.5})
				if err == nil {
					if r, _ := res.(map[string]any); r == nil || r["sum"] != float64(i)+0.5 {
						err = fmt.Errorf("add(%d, 0.5): got %v", i, res)
					}
				}
				errs <- err
			}()
		}
		for range n {
			is.NoErr(<-errs)
		}
	})
}
