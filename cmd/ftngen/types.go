package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ftnpipe/ccm/spec"
)

// goType is the Go form of an FTN3 type reference.
type goType struct {
	expr string
	// nilable types (slices, maps, any) stand for an absent optional value
	// by nil; the others become pointers where they are optional.
	nilable bool
}

// optional returns the type of an optional field or parameter.
func (t goType) optional() goType {
	if t.nilable {
		return t
	}
	return goType{expr: "*" + t.expr, nilable: true}
}

// typeOf maps a type reference (one name, or the names of a variant) to
// Go, following the table in the package doc.
func (g *ifaceGen) typeOf(names []string) goType {
	if len(names) != 1 {
		return goType{expr: "any", nilable: true}
	}
	switch n := names[0]; n {
	case "any":
		return goType{expr: "any", nilable: true}
	case "boolean":
		return goType{expr: "bool"}
	case "integer":
		return goType{expr: "int"}
	case "number":
		return goType{expr: "float64"}
	case "string":
		return goType{expr: "string"}
	case "map":
		return goType{expr: "map[string]any", nilable: true}
	case "array":
		return goType{expr: "[]any", nilable: true}
	case "data":
		return goType{expr: "[]byte", nilable: true}
	default:
		t := g.iface.Type(n)
		if t == nil { // refused by spec at load; kept total for safety
			return goType{expr: "any", nilable: true}
		}
		return goType{expr: g.typeName(n), nilable: g.customNilable(t)}
	}
}

func (g *ifaceGen) typeName(n string) string { return g.types[n] }

func (g *ifaceGen) customNilable(t *spec.Type) bool {
	switch t.Kind {
	case "boolean", "integer", "number", "string", "enum":
		return false
	case "map":
		return len(t.Fields) == 0
	}
	return true // any, array, data, set, variant ("")
}

// itemKind says what Go type holds the items of an enum or set: "string",
// "int", or "" when they mix strings and integers.
func itemKind(items []any) string {
	kind := ""
	for _, it := range items {
		k := "int"
		if _, ok := it.(string); ok {
			k = "string"
		}
		if kind != "" && kind != k {
			return ""
		}
		kind = k
	}
	return kind
}

// itemLiteral is an enum or set item as a Go constant and a name suffix.
func itemLiteral(it any) (lit, suffix string) {
	switch x := it.(type) {
	case string:
		return strconv.Quote(x), exported(x)
	case float64:
		s := strconv.FormatInt(int64(x), 10)
		return s, strings.Replace(s, "-", "Minus", 1)
	}
	return fmt.Sprint(it), exported(fmt.Sprint(it))
}

// genType writes the declaration of one custom type.
func (g *ifaceGen) genType(t *spec.Type) {
	name := g.typeName(t.Name)
	g.doc(name, t.Desc, "is the custom type "+t.Name+" of "+g.iface.IfaceVer()+constraints(t)+".")
	switch {
	case t.Kind == "":
		g.p("// It is a variant of %s: a value of any of them.", strings.Join(t.Base, ", "))
		g.p("type %s = any", name)
	case t.Kind == "map" && len(t.Fields) > 0:
		if len(t.ElemType) > 0 {
			g.p("// Its elemtype (%s) applies to the fields on the wire only.", strings.Join(t.ElemType, ", "))
		}
		g.p("type %s struct {", name)
		used := map[string]bool{}
		for _, f := range t.Fields {
			ft := g.typeOf(f.Type)
			tag := f.Name
			if f.Optional {
				ft = ft.optional()
				tag += ",omitempty"
			}
			fname := exported(f.Name)
			for used[fname] {
				fname += "_"
			}
			used[fname] = true
			g.fieldDoc(f.Desc, f.Type, f.Optional)
			g.p("%s %s `json:%q`", fname, ft.expr, tag)
		}
		g.p("}")
	case t.Kind == "map":
		g.p("type %s = map[string]%s", name, g.elem(t.ElemType))
	case t.Kind == "array":
		g.p("type %s = []%s", name, g.elem(t.ElemType))
	case t.Kind == "enum" || t.Kind == "set":
		g.genItems(name, t)
	default:
		g.p("type %s = %s", name, g.typeOf([]string{t.Kind}).expr)
	}
	g.p("")
}

func (g *ifaceGen) elem(names []string) string {
	if len(names) == 0 {
		return "any"
	}
	return g.typeOf(names).expr
}

// genItems writes an enum (a named type with one constant per item) or a
// set (a slice of such a named item type).
func (g *ifaceGen) genItems(name string, t *spec.Type) {
	item := name
	if t.Kind == "set" {
		item = g.unique(name+"Item", "_")
	}
	kind := itemKind(t.Items)
	if kind == "" {
		g.p("// Its items mix strings and integers, so it is held as any.")
		if t.Kind == "set" {
			g.p("type %s = []any", name)
		} else {
			g.p("type %s = any", name)
		}
		return
	}
	if t.Kind == "set" {
		g.p("// Each element is a distinct %s.", item)
		g.p("type %s = []%s", name, item)
		g.p("")
		g.p("// %s is an item of %s.", item, name)
	}
	g.p("type %s %s", item, kind)
	g.p("")
	g.p("// The items of %s.", name)
	g.p("const (")
	used := map[string]bool{}
	for _, it := range t.Items {
		lit, suffix := itemLiteral(it)
		for used[suffix] || g.taken[item+suffix] {
			suffix += "_"
		}
		used[suffix] = true
		g.taken[item+suffix] = true
		g.p("%s%s %s = %s", item, suffix, item, lit)
	}
	g.p(")")
}

// constraints describes the checks the spec makes beyond the Go type.
func constraints(t *spec.Type) string {
	var c []string
	if t.Min != nil {
		c = append(c, "min "+strconv.FormatFloat(*t.Min, 'g', -1, 64))
	}
	if t.Max != nil {
		c = append(c, "max "+strconv.FormatFloat(*t.Max, 'g', -1, 64))
	}
	if t.MinLen != nil {
		c = append(c, "minlen "+strconv.Itoa(*t.MinLen))
	}
	if t.MaxLen != nil {
		c = append(c, "maxlen "+strconv.Itoa(*t.MaxLen))
	}
	if t.Regex != "" {
		c = append(c, "regex "+strconv.Quote(t.Regex))
	}
	if len(c) == 0 {
		return ""
	}
	return " (" + strings.Join(c, ", ") + ")"
}
