package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/ftnpipe/ccm/pipeline"
)

// format is what a binary codec knows about its encoding; binCodec builds
// the FutoIn envelopes on top of it, with the same rules as the JSON
// codec, so that MessagePack and CBOR accept and refuse the same messages.
type format interface {
	// members walks the top-level map of a whole message, calling f with
	// each key and the bytes of its value. Every value is validated
	// (lengths bounded by the bytes that remain, depth by maxDepth) before
	// f sees it; trailing bytes are an error.
	members(b []byte, f func(key string, val []byte) error) error
	// decodeAny decodes one complete value into a generic value (see the
	// package doc for the Go types); trailing bytes are an error.
	decodeAny(val []byte) (any, error)
	// decodeString decodes one complete value that must be a string or
	// nil (null reports nil); errNotString for other values.
	decodeString(val []byte) (s string, null bool, err error)
	// unmarshal decodes one complete value into a typed target.
	unmarshal(raw []byte, v any) error
	// The encoders of the generic value types; appendBinValue combines them.
	appendNil(dst []byte) []byte
	appendBool(dst []byte, b bool) []byte
	appendInt(dst []byte, i int64) []byte
	appendUint(dst []byte, u uint64) []byte
	appendFloat(dst []byte, f float64) []byte
	appendString(dst []byte, s string) []byte
	appendBytes(dst []byte, b []byte) []byte
	appendMap(dst []byte, n int) []byte
	appendArray(dst []byte, n int) []byte
}

// binCodec is a binary codec: a 4-byte marker, then one encoded map.
type binCodec struct {
	name   string // the coder name, also the marker
	ctype  string
	format format
}

func (c *binCodec) Name() string        { return c.name }
func (c *binCodec) ContentType() string { return c.ctype }

func (c *binCodec) body(b []byte) ([]byte, error) {
	if len(b) < 4 || string(b[:4]) != c.name {
		return nil, fmt.Errorf("not a %s message: it must start with %q", c.name, c.name)
	}
	return b[4:], nil
}

func (c *binCodec) AppendRequest(dst []byte, r *pipeline.Request) ([]byte, error) {
	n := 2
	if r.Rid != "" {
		n++
	}
	if r.ForceRsp {
		n++
	}
	if r.Sec != "" {
		n++
	}
	if r.Obf != nil {
		n++
	}
	f := c.format
	dst = append(dst, c.name...)
	dst = f.appendMap(dst, n)
	dst = f.appendString(f.appendString(dst, "f"), r.F)
	dst = f.appendString(dst, "p")
	var err error
	if r.P == nil {
		dst = f.appendMap(dst, 0)
	} else if dst, err = appendBinValue(f, dst, r.P); err != nil {
		return dst, err
	}
	if r.Rid != "" {
		dst = f.appendString(f.appendString(dst, "rid"), r.Rid)
	}
	if r.ForceRsp {
		dst = f.appendBool(f.appendString(dst, "forcersp"), true)
	}
	if r.Sec != "" {
		dst = f.appendString(f.appendString(dst, "sec"), r.Sec)
	}
	if r.Obf != nil {
		if dst, err = appendBinValue(f, f.appendString(dst, "obf"), r.Obf); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *binCodec) AppendResponse(dst []byte, r *pipeline.Response) ([]byte, error) {
	n := 1
	if r.E != "" && r.EDesc != "" {
		n++
	}
	if r.Rid != "" {
		n++
	}
	if r.Sec != "" {
		n++
	}
	f := c.format
	dst = append(dst, c.name...)
	dst = f.appendMap(dst, n)
	var err error
	if r.E != "" {
		dst = f.appendString(f.appendString(dst, "e"), string(r.E))
		if r.EDesc != "" {
			dst = f.appendString(f.appendString(dst, "edesc"), r.EDesc)
		}
	} else {
		dst = f.appendString(dst, "r")
		if r.RawR != nil {
			dst = append(dst, r.RawR...)
		} else if dst, err = appendBinValue(f, dst, r.R); err != nil {
			return dst, err
		}
	}
	if r.Rid != "" {
		dst = f.appendString(f.appendString(dst, "rid"), r.Rid)
	}
	if r.Sec != "" {
		dst = f.appendString(f.appendString(dst, "sec"), r.Sec)
	}
	return dst, nil
}

// optString decodes a string or nil ("" for nil).
func (c *binCodec) optString(val []byte, key string) (string, error) {
	s, _, err := c.format.decodeString(val)
	if err == errNotString {
		return "", fmt.Errorf("%q is not a string", key)
	}
	return s, err
}

// anyString decodes a value and returns it if it is a string: a "sec" of
// another type counts as no credentials, as in the JSON codec.
func (c *binCodec) anyString(val []byte) (string, error) {
	s, _, err := c.format.decodeString(val)
	if err == errNotString {
		_, err = c.format.decodeAny(val) // still a valid value?
		return "", err
	}
	return s, err
}

func (c *binCodec) DecodeResponse(b []byte, r *pipeline.Response) error {
	*r = pipeline.Response{}
	body, err := c.body(b)
	if err != nil {
		return err
	}
	err = c.format.members(body, func(key string, val []byte) error {
		var err error
		switch key {
		case "r":
			r.RawR, r.HasR = val, true
		case "e":
			var e string
			e, err = c.optString(val, key)
			r.E = pipeline.ErrorName(e)
		case "edesc":
			r.EDesc, err = c.optString(val, key)
		case "rid":
			r.Rid, err = c.optString(val, key)
		case "sec":
			r.Sec, err = c.anyString(val)
		}
		return err
	})
	if err != nil {
		*r = pipeline.Response{}
		return err
	}
	switch {
	case r.E == "" && !r.HasR:
		*r = pipeline.Response{}
		return errors.New(`response has neither "r" nor "e"`)
	case r.E != "" && r.HasR:
		*r = pipeline.Response{}
		return errors.New(`response has both "r" and "e"`)
	}
	return nil
}

// DecodeRequest decodes a request with the JSON codec's rules: a map with
// a string "f", a map "p" and no keys beyond the FTN3 request schema.
func (c *binCodec) DecodeRequest(b []byte, r *pipeline.Request) error {
	*r = pipeline.Request{}
	body, err := c.body(b)
	if err != nil {
		return err
	}
	var hasF bool
	err = c.format.members(body, func(key string, val []byte) error {
		var err error
		switch key {
		case "f":
			f, null, err := c.format.decodeString(val)
			if err == nil && !null {
				r.F, hasF = f, true
			}
			if err == errNotString {
				err = errors.New(`"f" is not a string`)
			}
			return err
		case "p":
			var m map[string]any
			m, err = c.optMap(val, key)
			r.P = m
		case "rid":
			r.Rid, err = c.optString(val, key)
		case "forcersp":
			var v any
			if v, err = c.format.decodeAny(val); err == nil {
				switch x := v.(type) {
				case bool:
					r.ForceRsp = x
				case nil:
				default:
					err = errors.New(`"forcersp" is not a boolean`)
				}
			}
		case "sec":
			r.Sec, err = c.anyString(val)
		case "obf":
			r.Obf, err = c.optMap(val, key)
		default:
			return fmt.Errorf("unknown request field %q", key)
		}
		return err
	})
	if err != nil {
		*r = pipeline.Request{}
		return err
	}
	if !hasF {
		*r = pipeline.Request{}
		return errors.New(`missing "f"`)
	}
	if r.P == nil {
		*r = pipeline.Request{}
		return errors.New(`missing or null "p"`)
	}
	return nil
}

// optMap decodes a map or nil.
func (c *binCodec) optMap(val []byte, key string) (map[string]any, error) {
	v, err := c.format.decodeAny(val)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	}
	return nil, fmt.Errorf("%q is not a map", key)
}

// DecodeValue decodes a raw value (a Response.RawR of this codec, without
// marker). A *any target gets generic values (package doc); any other
// target goes through the codec library, with `json` struct tags.
func (c *binCodec) DecodeValue(raw []byte, v any) error {
	if pv, ok := v.(*any); ok {
		val, err := c.format.decodeAny(raw)
		if err != nil {
			return err
		}
		*pv = val
		return nil
	}
	return c.format.unmarshal(raw, v)
}

// checkDepth is the nesting limit shared by the binary decoders.
func checkDepth(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	return nil
}

var (
	errTooDeep   = errors.New("message nested too deeply")
	errTruncated = errors.New("message truncated: a declared length exceeds the bytes that remain")
	errTrailing  = errors.New("trailing data after the message")
	errMapKey    = errors.New("map key is not a string")
	errNotString = errors.New("not a string")
)

// envelopeKey returns the key, without allocating for the keys of the
// FutoIn envelopes.
func envelopeKey(raw []byte) string {
	switch string(raw) {
	case "f":
		return "f"
	case "p":
		return "p"
	case "rid":
		return "rid"
	case "forcersp":
		return "forcersp"
	case "sec":
		return "sec"
	case "obf":
		return "obf"
	case "r":
		return "r"
	case "e":
		return "e"
	case "edesc":
		return "edesc"
	}
	return string(raw)
}

// maxPrealloc and maxPreallocMap bound the room reserved for a container
// from its declared length; beyond them the container grows as its
// elements arrive. A declared length is bounded by the bytes that remain,
// but nested containers each see nearly the same remaining bytes:
// reserving all of them at every level would cost depth × size before the
// message fails.
const (
	maxPrealloc    = 32 // array elements
	maxPreallocMap = 8  // map pairs
)

// maxExactInt is the largest integer a float64 holds exactly (2^53).
const maxExactInt = 1 << 53

// intValue is the generic value of a decoded integer: a float64, as JSON
// gives, when it is exact; int64 beyond ±2^53, so nothing is lost.
func intValue(i int64) any {
	if i >= -maxExactInt && i <= maxExactInt {
		return float64(i)
	}
	return i
}

// uintValue is intValue for unsigned integers (uint64 above MaxInt64).
func uintValue(u uint64) any {
	if u <= maxExactInt {
		return float64(u)
	}
	if u <= 1<<63-1 {
		return int64(u)
	}
	return u
}

// appendBinValue encodes v with f. The generic value types (and every Go
// integer and float type) are written natively, []byte as the format's
// byte string; a float64 that holds an integer is written as an integer,
// as a JavaScript peer writes its numbers. Any other value is first
// turned into generic values through encoding/json (its struct tags
// apply), exactly as the JSON codec and the MAC base see it.
func appendBinValue(f format, dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return f.appendNil(dst), nil
	case string:
		return f.appendString(dst, x), nil
	case bool:
		return f.appendBool(dst, x), nil
	case float64:
		return appendNumber(f, dst, x), nil
	case float32:
		// Its shortest decimal form, as the JSON codec and the MAC base
		// read a float32, not the float64 nearest to the float32.
		var b [32]byte
		g, _ := strconv.ParseFloat(string(strconv.AppendFloat(b[:0], float64(x), 'g', -1, 32)), 64)
		return appendNumber(f, dst, g), nil
	case int:
		return f.appendInt(dst, int64(x)), nil
	case int8:
		return f.appendInt(dst, int64(x)), nil
	case int16:
		return f.appendInt(dst, int64(x)), nil
	case int32:
		return f.appendInt(dst, int64(x)), nil
	case int64:
		return f.appendInt(dst, x), nil
	case uint:
		return f.appendUint(dst, uint64(x)), nil
	case uint8:
		return f.appendUint(dst, uint64(x)), nil
	case uint16:
		return f.appendUint(dst, uint64(x)), nil
	case uint32:
		return f.appendUint(dst, uint64(x)), nil
	case uint64:
		return f.appendUint(dst, x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return f.appendInt(dst, i), nil
		}
		g, err := x.Float64()
		if err != nil {
			return dst, fmt.Errorf("invalid JSON number %q", string(x))
		}
		return appendNumber(f, dst, g), nil
	case []byte:
		return f.appendBytes(dst, x), nil
	case map[string]any:
		dst = f.appendMap(dst, len(x))
		var err error
		for k, e := range x {
			dst = f.appendString(dst, k)
			if dst, err = appendBinValue(f, dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []any:
		dst = f.appendArray(dst, len(x))
		var err error
		for _, e := range x {
			if dst, err = appendBinValue(f, dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	g, err := parseValue(b)
	if err != nil {
		return dst, err
	}
	return appendBinValue(f, dst, g)
}

// appendNumber writes an integral float64 within ±2^53 as an integer (not
// -0), anything else as a float, so that it decodes to a float64 again.
func appendNumber(f format, dst []byte, x float64) []byte {
	if x == math.Trunc(x) && x >= -maxExactInt && x <= maxExactInt && (x != 0 || !math.Signbit(x)) {
		return f.appendInt(dst, int64(x))
	}
	return f.appendFloat(dst, x)
}

// SalvageRid reads a string "rid" from a binary (MessagePack or CBOR)
// message that did not decode as a request or response, so that an
// error reply can still be matched; "" when there is none or b is not a
// binary message. It reads up to the first malformed member.
func SalvageRid(b []byte) string {
	c, _ := Detect(b)
	bc, ok := c.(*binCodec)
	if !ok {
		return ""
	}
	var rid string
	_ = bc.format.members(b[4:], func(key string, val []byte) error {
		if key == "rid" {
			v, _ := bc.format.decodeAny(val)
			rid, _ = v.(string)
		}
		return nil
	})
	return rid
}

// walkWhole checks (and, with build, decodes) b as exactly one value with
// walk, the format's bounded walker; bytes after it are errTrailing.
func walkWhole(walk func(b []byte, i, depth int, build bool) (any, int, error), b []byte, build bool) (any, error) {
	v, end, err := walk(b, 0, 0, build)
	if err == nil && end != len(b) {
		err = errTrailing
	}
	return v, err
}
