// Package unit parses systemd unit files, drop-ins and environment files the
// way systemd does for the subset of directives the sandbox stand-ins honour.
// It is part of the sandbox systemd stand-in, not of kboot itself.
package unit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Entry is one "Key=Value" assignment from a unit file, kept in file order
// because an empty assignment resets a list-valued key (as in systemd).
type Entry struct {
	Section string
	Key     string
	Value   string
	File    string
	Line    int
}

// ParseFile reads one unit file or drop-in. Continuation lines (a trailing
// backslash) are joined with a space, as systemd does.
func ParseFile(r io.Reader, file string) ([]Entry, error) {
	var entries []Entry
	section := ""
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	lineNo := 0
	pending := ""
	pendingLine := 0
	for scanner.Scan() {
		lineNo++
		raw := scanner.Text()
		if pending == "" {
			trimmed := strings.TrimSpace(raw)
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
				continue
			}
			pendingLine = lineNo
		} else {
			// systemd skips comment lines inside a continued assignment.
			trimmed := strings.TrimSpace(raw)
			if trimmed != "" && (trimmed[0] == '#' || trimmed[0] == ';') {
				continue
			}
		}
		if strings.HasSuffix(raw, "\\") {
			pending += strings.TrimSuffix(raw, "\\") + " "
			continue
		}
		line := strings.TrimSpace(pending + raw)
		pending = ""
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: invalid section header %q: expected [Name]", file, pendingLine, line)
			}
			section = line[1 : len(line)-1]
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%s:%d: missing '=' in %q: expected Key=Value", file, pendingLine, line)
		}
		if section == "" {
			return nil, fmt.Errorf("%s:%d: assignment %q outside of a section", file, pendingLine, line)
		}
		entries = append(entries, Entry{
			Section: section,
			Key:     strings.TrimSpace(line[:eq]),
			Value:   strings.TrimSpace(line[eq+1:]),
			File:    file,
			Line:    pendingLine,
		})
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if pending != "" {
		line := strings.TrimSpace(pending)
		eq := strings.IndexByte(line, '=')
		if eq > 0 && section != "" {
			entries = append(entries, Entry{Section: section, Key: strings.TrimSpace(line[:eq]), Value: strings.TrimSpace(line[eq+1:]), File: file, Line: pendingLine})
		}
	}
	return entries, nil
}

// SplitWords splits a command line or a list of assignments into words the
// way systemd does: whitespace separates words, single and double quotes group
// them, and a backslash escapes the next character (C escapes such as \n are
// decoded). Variable references are left untouched for a later Expand.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case c == '\\' && quote != '\'':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("invalid trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(unescape(s[i]))
			inWord = true
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'v':
		return '\v'
	case 's':
		return ' '
	}
	return c
}
