package spec

// MaxFTN3Minor is the newest FTN3 revision this package implements: 1.9.
// An Executor refuses definitions that declare a newer minor; an Invoker
// loads them (FTN3 §1.11: an Invoker accepts any minor of a major it knows).
const MaxFTN3Minor = 9

// checkRev refuses features newer than the ftn3rev the definition
// declares, with the reference's messages. Only the definition's own
// content is checked: the reference looks at the merged result, so a 1.0
// file inheriting a 1.9 base that uses "data" fails there, although that
// file uses nothing of 1.9 itself; its revision describes its own text.
// kindOf resolves a type name to its standard kind through aliases ("" if
// unknown or a variant).
func checkRev(r *rawIface, kindOf func(string) string) error {
	mnr := r.revMinor
	has := func(c string) bool {
		for _, x := range r.requires {
			if x == c {
				return true
			}
		}
		return false
	}
	if mnr < 1 {
		switch {
		case r.hasImports:
			return internalf("Import is FTN3 v1.1 feature")
		case r.hasTypes:
			return internalf("Custom types is FTN3 v1.1 feature")
		case has("BiDirectChannel"):
			return internalf("BiDirectChannel is FTN3 v1.1 feature")
		}
	}
	if mnr < 2 && has("MessageSignature") {
		return internalf("MessageSignature is FTN3 v1.2 feature")
	}
	if mnr < 3 {
		for _, f := range r.funcs {
			if f.seclvl != "" {
				return internalf("Function seclvl is FTN3 v1.3 feature")
			}
		}
	}
	if mnr < 4 && usesShortcut(r) {
		return internalf("Type shortcut is FTN3 v1.4 feature")
	}
	if mnr < 5 {
		for _, t := range r.types {
			if (t.cons.minlen != nil || t.cons.maxlen != nil) && kindOf(t.name) == "string" {
				return internalf("String min/maxlen is FTN3 v1.5 feature")
			}
		}
	}
	if mnr < 6 {
		if err := checkRev16(r, kindOf); err != nil {
			return err
		}
	}
	if mnr < 7 {
		for _, f := range r.funcs {
			if f.resultType != nil {
				return internalf("Custom result type FTN3 v1.7 feature")
			}
		}
	}
	if mnr < 8 {
		for _, f := range r.funcs {
			if f.hasSizes {
				return internalf("Function maxreqsize/maxrspsize is FTN3 v1.8 feature")
			}
		}
	}
	if mnr < 9 {
		if has("BinaryData") {
			return internalf("BinaryData is FTN3 v1.9 feature")
		}
		if usesData(r) {
			return internalf("'data' type is FTN3 v1.9 feature")
		}
	}
	return nil
}

func usesShortcut(r *rawIface) bool {
	for _, f := range r.funcs {
		for _, p := range f.params {
			if p.short {
				return true
			}
		}
		for _, rv := range f.resultVars {
			if rv.short {
				return true
			}
		}
	}
	for _, t := range r.types {
		if t.short {
			return true
		}
		for _, fd := range t.cons.fields {
			if fd.short {
				return true
			}
		}
	}
	return false
}

// checkRev16 gates variants, enum/set and map elemtype. The reference
// does not look for variants inside fields and elemtype; the spec
// introduces variants in 1.6 wherever they appear, so we do.
func checkRev16(r *rawIface, kindOf func(string) string) error {
	variant := internalf("Type variant is FTN3 v1.6 feature")
	for _, f := range r.funcs {
		for _, p := range f.params {
			if p.variant {
				return variant
			}
		}
		for _, rv := range f.resultVars {
			if rv.variant {
				return variant
			}
		}
		if len(f.resultType) > 1 {
			return variant
		}
	}
	for _, t := range r.types {
		switch {
		case t.variant:
			return variant
		case t.base[0] == "enum" || t.base[0] == "set":
			return internalf("Enum/Set is FTN3 v1.6 feature")
		case t.cons.elemtype != nil && kindOf(t.name) == "map":
			return internalf("Map elemtype is FTN3 v1.6 feature")
		case len(t.cons.elemtype) > 1:
			return variant
		}
		for _, fd := range t.cons.fields {
			if fd.variant {
				return variant
			}
		}
	}
	return nil
}

func usesData(r *rawIface) bool {
	data := func(t typeRef) bool {
		for _, n := range t {
			if n == "data" {
				return true
			}
		}
		return false
	}
	for _, f := range r.funcs {
		for _, p := range f.params {
			if data(p.types) {
				return true
			}
		}
		for _, rv := range f.resultVars {
			if data(rv.types) {
				return true
			}
		}
		if data(f.resultType) {
			return true
		}
	}
	for _, t := range r.types {
		if data(t.base) || data(t.cons.elemtype) {
			return true
		}
		for _, fd := range t.cons.fields {
			if data(fd.types) {
				return true
			}
		}
	}
	return false
}
