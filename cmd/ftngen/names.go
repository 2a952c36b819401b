package main

import (
	"go/token"
	"strings"
	"unicode"
)

// exported turns a FutoIn name ("testFunc", "MY_ERROR", "fileface.a")
// into an exported Go identifier ("TestFunc", "MyError", "FilefaceA").
// Parts are split at every character that cannot be in an identifier and
// at underscores; an all-capitals part keeps only its first capital.
func exported(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool {
		return r == '_' || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		rs := []rune(part)
		if isUpper(part) {
			for i := 1; i < len(rs); i++ {
				rs[i] = unicode.ToLower(rs[i])
			}
		}
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	s := b.String()
	if s == "" || unicode.IsDigit([]rune(s)[0]) {
		s = "X" + s
	}
	return s
}

func isUpper(s string) bool {
	letters := false
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
		letters = letters || unicode.IsLetter(r)
	}
	return letters
}

// unexported is exported with a lower-case first letter.
func unexported(name string) string {
	s := []rune(exported(name))
	s[0] = unicode.ToLower(s[0])
	return string(s)
}

// local turns a parameter name into a Go variable name that is neither a
// keyword nor one of the names the generated method bodies use.
func local(name string, reserved map[string]bool) string {
	s := []rune(name)
	ok := len(s) > 0
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r))) {
			ok = false
		}
	}
	v := name
	if !ok {
		v = unexported(name)
	}
	for token.IsKeyword(v) || reserved[v] {
		v += "_"
	}
	return v
}
