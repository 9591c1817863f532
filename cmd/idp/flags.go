package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet returns a FlagSet whose errors and help go to s.err and whose
// help describes the command.
func newFlagSet(s stdio, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.err)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: idp %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; a bad flag is a usage error already printed by fs.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(io.Discard)
			return flag.ErrHelp
		}
		return errUsage
	}
	return nil
}

// noArgs refuses stray positional arguments.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// splitPositional separates the flags of fs (with their values) from
// positional arguments anywhere in args. An argument that begins with "-"
// but names no flag of fs is positional, not an error: identifiers such as
// base64url key ids may begin with "-". Everything after "--" is positional.
func splitPositional(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(positional, args[i+1:]...)
		}
		name, hasValue := flagName(a)
		f := fs.Lookup(name)
		if name == "" || (f == nil && name != "h" && name != "help") {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagName returns the name in "-name", "--name" or "--name=value" and
// whether the value is attached; "" when a is not flag-shaped.
func flagName(a string) (name string, hasValue bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false
	}
	name = strings.TrimPrefix(a[1:], "-")
	if name == "" || name[0] == '-' || name[0] == '=' {
		return "", false
	}
	name, _, hasValue = strings.Cut(name, "=")
	return name, hasValue
}

// multi is a repeatable string flag (--role a --role b).
type multi []string

func (m *multi) String() string { return strings.Join(*m, ",") }

// Set appends one value.
func (m *multi) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// readSecret reads a password or secret from stdin, dropping one trailing
// newline so `echo secret | idp ...` works.
func readSecret(r io.Reader, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s on stdin is empty", what)
	}
	return s, nil
}
