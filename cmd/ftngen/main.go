package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ftnpipe/ccm/spec"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ftngen:", err)
		os.Exit(1)
	}
}

// listFlag collects comma-separated values from one or more uses of a flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// run is the command without the process: args without the program name.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ftngen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dirs, ifaces, names listFlag
	fs.Var(&dirs, "dir", "directory of {iface}-{ver}-iface.json files (repeatable, comma-separated; searched in order)")
	fs.Var(&ifaces, "iface", "iface:ver to generate (repeatable, comma-separated); default: every definition in the first -dir")
	fs.Var(&names, "name", "Go name for an interface, iface:ver=Name (repeatable); default: its last dot-separated part, exported")
	out := fs.String("o", "", "output file; default: standard output")
	pkg := fs.String("pkg", os.Getenv("GOPACKAGE"), "package name; default: $GOPACKAGE (set by go generate)")
	client := fs.Bool("client", true, "generate the typed clients")
	server := fs.Bool("server", true, "generate the server interfaces and registration helpers")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ftngen -dir specs [-iface name:ver,...] [-o file.go] [-pkg name] [-client=false] [-server=false]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(dirs) == 0 {
		return errors.New("no -dir given")
	}
	if *pkg == "" {
		return errors.New("no -pkg given (and $GOPACKAGE is not set)")
	}
	if !*client && !*server {
		return errors.New("-client=false and -server=false leave nothing to generate")
	}
	cfg := config{pkg: *pkg, names: map[string]string{}, client: *client, server: *server}
	for _, n := range names {
		iv, goName, ok := strings.Cut(n, "=")
		if !ok || !isGoName(goName) {
			return fmt.Errorf("-name %q: want iface:ver=GoName with an exported Go identifier", n)
		}
		cfg.names[iv] = goName
	}
	var opts []spec.Option
	for _, d := range dirs {
		opts = append(opts, spec.Dir(d))
	}
	cfg.set = spec.New(opts...)
	defs, err := readDefs(dirs)
	if err != nil {
		return err
	}
	cfg.defs = defs
	if len(ifaces) == 0 {
		first, err := readDefs(dirs[:1])
		if err != nil {
			return err
		}
		ifaces = sortedKeysOf(first)
		if len(ifaces) == 0 {
			return fmt.Errorf("no definitions in %s", dirs[0])
		}
	}
	for _, iv := range ifaces {
		ifc, err := cfg.set.Iface(iv)
		if err != nil {
			return fmt.Errorf("loading %s: %w", iv, err)
		}
		cfg.ifaces = append(cfg.ifaces, ifc)
	}
	src, err := generate(cfg)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(src)
		return err
	}
	return os.WriteFile(*out, src, 0o644)
}

var goIdent = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)

func isGoName(s string) bool { return goIdent.MatchString(s) }

// defFile matches a definition file name: {iface}-{major.minor}-iface.json.
var defFile = regexp.MustCompile(`^(.+)-([0-9]+\.[0-9]+)-iface\.json$`)

// readDefs reads the text of every definition file in dirs, compacted,
// by ifacever; a file in an earlier dir wins, as in spec.Set.
func readDefs(dirs []string) (map[string][]byte, error) {
	defs := map[string][]byte{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			m := defFile.FindStringSubmatch(e.Name())
			if m == nil || e.IsDir() {
				continue
			}
			iv := m[1] + ":" + m[2]
			if _, ok := defs[iv]; ok {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(d, e.Name()), err)
			}
			defs[iv] = b.Bytes()
		}
	}
	return defs, nil
}

func sortedKeysOf(m map[string][]byte) []string {
	set := make(map[string]bool, len(m))
	for k := range m {
		set[k] = true
	}
	return sortedKeys(set)
}
