package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/ftnpipe/ccm/pipeline"
)

// CBOR is the CBOR codec ("CBOR", application/futoin+cbor): the ASCII
// marker "CBOR" followed by one CBOR map (FTN3 §1.13, RFC 8949).
var CBOR pipeline.Codec = &binCodec{name: "CBOR", ctype: ContentTypeCBOR, format: cborFormat{}}

// ContentTypeCBOR and ContentTypeVndCBOR are the media types of CBOR
// FutoIn messages; receivers accept both.
const (
	ContentTypeCBOR    = "application/futoin+cbor"
	ContentTypeVndCBOR = "application/vnd.futoin+cbor"
)

// Limits of the typed CBOR decoder (fxamacker/cbor), set deliberately:
// nesting as deep as the other decoders allow, and element counts far
// above anything a message within the size limit can hold, so that the
// message size limit is the one that applies; fxamacker/cbor checks that
// a message is well formed (every declared length present) before it
// allocates, so a count cannot reserve memory the bytes do not back.
const (
	cborMaxElements = 1 << 24
)

var cborDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  maxDepth,
		MaxArrayElements: cborMaxElements,
		MaxMapPairs:      cborMaxElements,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsForbidden,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err) // the options above are constant
	}
	return dm
}()

// cborFormat reads CBOR with its own walker (the same generic values as
// the other codecs); fxamacker/cbor decodes typed targets, only bytes the
// walker has accepted. Tags are refused; indefinite lengths are accepted.
type cborFormat struct{}

const cborBreak = 0xff

func (cborFormat) members(b []byte, f func(key string, val []byte) error) error {
	if len(b) == 0 || b[0]>>5 != 5 {
		return errors.New("CBOR message is not a map")
	}
	n, indef, i, err := cborHead(b, 0)
	if err != nil {
		return err
	}
	if !indef && n > uint64(len(b)-i)/2 {
		return errTruncated
	}
	for k := uint64(0); indef || k < n; k++ {
		if indef && i < len(b) && b[i] == cborBreak {
			i++
			break
		}
		var key string
		if raw, end, ok, err := cborStr(b, i); ok && err == nil {
			key, i = envelopeKey(raw), end
		} else if key, i, err = cborKey(b, i); err != nil {
			return err
		}
		start := i
		if _, i, err = cborWalk(b, i, 1, false); err != nil {
			return err
		}
		if err := f(key, b[start:i]); err != nil {
			return err
		}
	}
	if i != len(b) {
		return errTrailing
	}
	return nil
}

func (cborFormat) decodeAny(val []byte) (any, error) { return walkWhole(cborWalk, val, true) }

func (cborFormat) unmarshal(raw []byte, v any) error {
	if _, err := walkWhole(cborWalk, raw, false); err != nil {
		return err
	}
	return cborDecMode.Unmarshal(raw, v)
}

// cborHead reads the head at b[i]: the argument (a length, a count or an
// integer), whether the item has indefinite length, and the offset after
// the head.
func cborHead(b []byte, i int) (arg uint64, indef bool, next int, err error) {
	if i >= len(b) {
		return 0, false, i, errTruncated
	}
	ai := b[i] & 0x1f
	i++
	switch {
	case ai < 24:
		return uint64(ai), false, i, nil
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(b)-i < size {
			return 0, false, i, errTruncated
		}
		for _, c := range b[i : i+size] {
			arg = arg<<8 | uint64(c)
		}
		return arg, false, i + size, nil
	case ai == 31:
		return 0, true, i, nil
	}
	return 0, false, i - 1, fmt.Errorf("invalid CBOR head 0x%02x", b[i-1])
}

// cborStr reads the definite-length text string at b[i] and returns its
// bytes (aliasing b) and the offset after it; ok is false when b[i] is
// not one (an indefinite-length string goes the slow way, cborWalk).
func cborStr(b []byte, i int) (raw []byte, end int, ok bool, err error) {
	if i >= len(b) {
		return nil, i, false, errTruncated
	}
	if b[i]>>5 != 3 || b[i]&0x1f == 31 {
		return nil, i, false, nil
	}
	n, _, i, err := cborHead(b, i)
	if err != nil {
		return nil, i, true, err
	}
	if n > uint64(len(b)-i) {
		return nil, i, true, errTruncated
	}
	raw = b[i : i+int(n)]
	if !utf8.Valid(raw) {
		return nil, i, true, errors.New("CBOR text string is not valid UTF-8")
	}
	return raw, i + int(n), true, nil
}

// cborKey reads a map key, which must be a text string.
func cborKey(b []byte, i int) (string, int, error) {
	raw, end, ok, err := cborStr(b, i)
	if ok || err != nil {
		return string(raw), end, err
	}
	if i < len(b) && b[i]>>5 != 3 {
		return "", i, errMapKey
	}
	v, end, err := cborWalk(b, i, 0, true)
	s, _ := v.(string)
	return s, end, err
}

func (cborFormat) decodeString(val []byte) (string, bool, error) {
	if len(val) == 1 && (val[0] == 0xf6 || val[0] == 0xf7) {
		return "", true, nil
	}
	raw, end, ok, err := cborStr(val, 0)
	switch {
	case err != nil:
		return "", false, err
	case ok && end != len(val):
		return "", false, errTrailing
	case ok:
		return string(raw), false, nil
	}
	v, err := cborFormat{}.decodeAny(val) // an indefinite-length string
	if err != nil {
		return "", false, err
	}
	if s, ok := v.(string); ok {
		return s, false, nil
	}
	return "", false, errNotString
}

// cborWalk reads the item at b[i] and returns the offset after it; with
// build it also returns the value (package doc: generic values). Lengths
// are checked against the bytes that remain before use, nesting is
// bounded by maxDepth.
func cborWalk(b []byte, i, depth int, build bool) (any, int, error) {
	if i >= len(b) {
		return nil, i, errTruncated
	}
	major := b[i] >> 5
	start := i
	arg, indef, i, err := cborHead(b, i)
	if err != nil {
		return nil, i, err
	}
	if indef && (major < 2 || major == 6) {
		return nil, start, fmt.Errorf("invalid CBOR head 0x%02x", b[start])
	}
	switch major {
	case 0:
		return uintValue(arg), i, nil
	case 1:
		if arg > math.MaxInt64 {
			return -1 - float64(arg), i, nil
		}
		return intValue(-1 - int64(arg)), i, nil
	case 2, 3:
		return cborString(b, i, major, arg, indef, build)
	case 4, 5:
		return cborContainer(b, i, depth, major, arg, indef, build)
	case 6:
		return nil, start, errors.New("CBOR tags are not supported")
	}
	return cborSimple(b, start, i, arg, indef)
}

// cborString reads a byte string (major 2) or a text string (3), made of
// chunks when indef.
func cborString(b []byte, i int, major byte, n uint64, indef, build bool) (any, int, error) {
	var buf []byte
	for {
		if indef {
			if i >= len(b) {
				return nil, i, errTruncated
			}
			if b[i] == cborBreak {
				i++
				break
			}
			var chunkIndef bool
			if b[i]>>5 != major {
				return nil, i, errors.New("CBOR string chunk of another type")
			}
			var err error
			if n, chunkIndef, i, err = cborHead(b, i); err != nil {
				return nil, i, err
			}
			if chunkIndef {
				return nil, i, errors.New("nested indefinite CBOR string")
			}
		}
		if n > uint64(len(b)-i) {
			return nil, i, errTruncated
		}
		chunk := b[i : i+int(n)]
		i += int(n)
		if major == 3 && !utf8.Valid(chunk) {
			return nil, i, errors.New("CBOR text string is not valid UTF-8")
		}
		if !indef && build { // one chunk: one copy
			if major == 3 {
				return string(chunk), i, nil
			}
			return append(make([]byte, 0, len(chunk)), chunk...), i, nil
		}
		if build {
			if buf == nil {
				buf = make([]byte, 0, len(chunk))
			}
			buf = append(buf, chunk...)
		}
		if !indef {
			break
		}
	}
	if !build {
		return nil, i, nil
	}
	if major == 3 {
		return string(buf), i, nil
	}
	if buf == nil {
		buf = []byte{}
	}
	return buf, i, nil
}

// cborContainer reads an array (major 4) or a map (5) of n elements, or
// up to a break when indef.
func cborContainer(b []byte, i, depth int, major byte, n uint64, indef, build bool) (any, int, error) {
	if err := checkDepth(depth + 1); err != nil {
		return nil, i, err
	}
	per := uint64(1)
	if major == 5 {
		per = 2
	}
	if !indef && n > uint64(len(b)-i)/per {
		return nil, i, errTruncated
	}
	var a []any
	var m map[string]any
	if build {
		if major == 4 {
			a = make([]any, 0, min(n, maxPrealloc))
		} else {
			m = make(map[string]any, min(n, maxPreallocMap))
		}
	}
	for k := uint64(0); indef || k < n; k++ {
		if indef {
			if i >= len(b) {
				return nil, i, errTruncated
			}
			if b[i] == cborBreak {
				i++
				break
			}
		}
		var key string
		var err error
		if major == 5 {
			if key, i, err = cborKey(b, i); err != nil {
				return nil, i, err
			}
		}
		var v any
		if v, i, err = cborWalk(b, i, depth+1, build); err != nil {
			return nil, i, err
		}
		switch {
		case !build:
		case major == 4:
			a = append(a, v)
		default:
			m[key] = v
		}
	}
	switch {
	case !build:
		return nil, i, nil
	case major == 4:
		return a, i, nil
	}
	return m, i, nil
}

// cborSimple reads a major-7 item: false, true, null, undefined (nil) and
// floats of 16, 32 and 64 bits.
func cborSimple(b []byte, start, i int, arg uint64, indef bool) (any, int, error) {
	if indef {
		return nil, start, errors.New("unexpected CBOR break")
	}
	switch ai := b[start] & 0x1f; ai {
	case 20:
		return false, i, nil
	case 21:
		return true, i, nil
	case 22, 23:
		return nil, i, nil
	case 25:
		return halfFloat(uint16(arg)), i, nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), i, nil
	case 27:
		return math.Float64frombits(arg), i, nil
	}
	return nil, start, fmt.Errorf("unsupported CBOR simple value 0x%02x", b[start])
}

// halfFloat converts an IEEE 754 half-precision float.
func halfFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(frac+1024, exp-25)
}

// cborAppendHead appends a head of the major type with argument n in its
// shortest form.
func cborAppendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), n)
}

func (cborFormat) appendNil(dst []byte) []byte { return append(dst, 0xf6) }

func (cborFormat) appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 0xf5)
	}
	return append(dst, 0xf4)
}

func (cborFormat) appendInt(dst []byte, i int64) []byte {
	if i < 0 {
		return cborAppendHead(dst, 1, uint64(^i))
	}
	return cborAppendHead(dst, 0, uint64(i))
}

func (cborFormat) appendUint(dst []byte, u uint64) []byte { return cborAppendHead(dst, 0, u) }

func (cborFormat) appendFloat(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(f))
}

func (cborFormat) appendString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // U+FFFD per invalid byte, as the JSON codec writes it
	}
	return append(cborAppendHead(dst, 3, uint64(len(s))), s...)
}

func (cborFormat) appendBytes(dst []byte, b []byte) []byte {
	return append(cborAppendHead(dst, 2, uint64(len(b))), b...)
}

func (cborFormat) appendMap(dst []byte, n int) []byte { return cborAppendHead(dst, 5, uint64(n)) }

func (cborFormat) appendArray(dst []byte, n int) []byte { return cborAppendHead(dst, 4, uint64(n)) }
