package codec

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON parser for the hot path: it decodes into the same
// generic values as encoding/json (map[string]any, []any, string, float64,
// bool, nil) and accepts exactly the same documents, which a differential
// fuzz test (FuzzParseMatchesStdlib) checks. It exists because decoding
// response envelopes and results with reflection was the largest cost of a
// call; this parser reads each byte once and allocates only the values it
// returns.

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

var errSyntax = errors.New("invalid JSON")

type parser struct {
	b     []byte
	i     int
	depth int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

// parseValue parses one complete document into a generic value.
func parseValue(b []byte) (any, error) {
	p := parser{b: b}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return nil, errSyntax
	}
	return v, nil
}

func (p *parser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, errSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, errSyntax
}

func (p *parser) literal(lit string) error {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return errSyntax
	}
	p.i += len(lit)
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errors.New("JSON nested too deeply")
	}
	return nil
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // '{'
	m := make(map[string]any)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errSyntax
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errSyntax
		}
		p.i++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, errSyntax
		}
	}
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // '['
	a := []any{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, errSyntax
		}
	}
}

// numberEnd returns the end of the JSON number starting at p.i, checking
// the grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *parser) numberEnd() (int, error) {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return 0, errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return 0, errSyntax
		}
	}
	return i, nil
}

func (p *parser) number() (any, error) {
	end, err := p.numberEnd()
	if err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(string(p.b[p.i:end]), 64)
	if err != nil {
		// encoding/json refuses numbers that overflow float64 too.
		return nil, errors.New("JSON number out of range")
	}
	p.i = end
	return f, nil
}

// string parses a JSON string starting at the opening quote. Invalid UTF-8
// becomes U+FFFD, as in encoding/json.
func (p *parser) string() (string, error) {
	b := p.b
	i := p.i + 1
	start := i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for i < len(b) {
		c := b[i]
		if c == '"' {
			s := b[start:i]
			p.i = i + 1
			if utf8.Valid(s) {
				return string(s), nil
			}
			return string([]rune(string(s))), nil // replaces invalid bytes with U+FFFD
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errSyntax
		}
		i++
	}
	if i >= len(b) {
		return "", errSyntax
	}
	out := make([]byte, 0, i-start+16)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			if utf8.Valid(out) {
				return string(out), nil
			}
			return string([]rune(string(out))), nil
		case c < 0x20:
			return "", errSyntax
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		i++
		if i >= len(b) {
			return "", errSyntax
		}
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i+1)
			if !ok {
				return "", errSyntax
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					r2, ok2 = hex4(b, i+3)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errSyntax
		}
		i++
	}
	return "", errSyntax
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip moves past one value without building it and returns its span.
func (p *parser) skip() ([]byte, error) {
	start := p.i
	if p.i >= len(p.b) {
		return nil, errSyntax
	}
	var err error
	switch c := p.b[p.i]; {
	case c == '{' || c == '[':
		err = p.skipContainer()
	case c == '"':
		err = p.skipString()
	case c == 't':
		err = p.literal("true")
	case c == 'f':
		err = p.literal("false")
	case c == 'n':
		err = p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		var end int
		if end, err = p.numberEnd(); err == nil {
			p.i = end
		}
	default:
		err = errSyntax
	}
	if err != nil {
		return nil, err
	}
	return p.b[start:p.i], nil
}

// skipContainer checks an object or array without building it.
func (p *parser) skipContainer() error {
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	open := p.b[p.i]
	end := byte('}')
	if open == '[' {
		end = ']'
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == end {
		p.i++
		return nil
	}
	for {
		p.skipSpace()
		if open == '{' {
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return errSyntax
			}
			if err := p.skipString(); err != nil {
				return err
			}
			p.skipSpace()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return errSyntax
			}
			p.i++
			p.skipSpace()
		}
		if _, err := p.skip(); err != nil {
			return err
		}
		p.skipSpace()
		if p.i >= len(p.b) {
			return errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case end:
			p.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (p *parser) skipString() error {
	b := p.b
	for i := p.i + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			return nil
		case c < 0x20:
			return errSyntax
		case c == '\\':
			i++
			if i >= len(b) {
				return errSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(b, i+1); !ok {
					return errSyntax
				}
				i += 4
			default:
				return errSyntax
			}
		}
	}
	return errSyntax
}

// members walks the members of a top-level object, calling f with each key
// and the parser positioned at the value; f must consume the value.
func (p *parser) members(f func(key string) error) error {
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return errors.New("not a JSON object")
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.skipSpace()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return errSyntax
			}
			k, err := p.string()
			if err != nil {
				return err
			}
			p.skipSpace()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return errSyntax
			}
			p.i++
			p.skipSpace()
			if err := f(k); err != nil {
				return err
			}
			p.skipSpace()
			if p.i >= len(p.b) {
				return errSyntax
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				break
			}
			return errSyntax
		}
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return errors.New("trailing data after the message")
	}
	return nil
}
