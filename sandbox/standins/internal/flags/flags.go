// Package flags parses daemon command lines the way the real programs'
// flag libraries do (pflag for Kubernetes, docker's mflag): "--name=value",
// "--name value", "-n value", repeatable list flags and boolean flags with
// an optional "=false". Unknown flags produce warnings, not errors, because
// a stand-in knows only part of the real program's flags and must not
// refuse a valid command line.
package flags

import (
	"fmt"
	"strconv"
	"strings"
)

type kind int

const (
	kindString kind = iota
	kindBool
	kindList
)

type flagDef struct {
	names  []string
	kind   kind
	value  string
	values []string
	set    bool
}

// Set is a group of flags for one program.
type Set struct {
	program  string
	byName   map[string]*flagDef
	Warnings []string
	Args     []string
}

// New creates an empty flag set for the program named in messages.
func New(program string) *Set {
	return &Set{program: program, byName: map[string]*flagDef{}}
}

func (s *Set) add(k kind, def string, names []string) *flagDef {
	d := &flagDef{names: names, kind: k, value: def}
	for _, n := range names {
		s.byName[n] = d
	}
	return d
}

// String defines a string flag under one or more names (such as "g" and
// "graph") and returns an accessor.
func (s *Set) String(def string, names ...string) func() string {
	d := s.add(kindString, def, names)
	return func() string { return d.value }
}

// Bool defines a boolean flag.
func (s *Set) Bool(def bool, names ...string) func() bool {
	d := s.add(kindBool, strconv.FormatBool(def), names)
	return func() bool { v, _ := strconv.ParseBool(d.value); return v }
}

// List defines a repeatable flag; comma-separated values are split when
// split is true (pflag's StringSlice), kept whole otherwise.
func (s *Set) List(split bool, names ...string) func() []string {
	d := s.add(kindList, "", names)
	return func() []string {
		if !split {
			return d.values
		}
		var out []string
		for _, v := range d.values {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
		return out
	}
}

// IsSet reports whether a flag appeared on the command line.
func (s *Set) IsSet(name string) bool {
	d, ok := s.byName[name]
	return ok && d.set
}

// Parse reads args. It fails on a missing value or an invalid boolean,
// and records unknown flags in Warnings.
func (s *Set) Parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			s.Args = append(s.Args, args[i+1:]...)
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			s.Args = append(s.Args, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			name, value, hasValue = name[:eq], name[eq+1:], true
		}
		d, ok := s.byName[name]
		if !ok {
			s.Warnings = append(s.Warnings, fmt.Sprintf("unknown flag %s ignored by the %s stand-in", a, s.program))
			continue
		}
		d.set = true
		if d.kind == kindBool {
			if !hasValue {
				value = "true"
			}
			if _, err := strconv.ParseBool(value); err != nil {
				return fmt.Errorf("invalid argument %q for %s: expected true or false", value, a)
			}
			d.value = value
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return fmt.Errorf("flag needs an argument: %s", a)
			}
			i++
			value = args[i]
		}
		if d.kind == kindList {
			d.values = append(d.values, value)
		} else {
			d.value = value
		}
	}
	return nil
}
