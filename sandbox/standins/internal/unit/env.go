package unit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseEnvFile reads an EnvironmentFile= as systemd does: KEY=VALUE lines,
// leading whitespace ignored, '#' and ';' comment lines, values optionally in
// single or double quotes (backslash escapes inside double quotes), a
// trailing backslash continues a line. Lines that are not valid assignments
// (such as the shell "if ... fi" lines in CentOS 7's /etc/sysconfig/docker)
// are skipped and returned as warnings. Values are not expanded.
func ParseEnvFile(r io.Reader, file string) (map[string]string, []string, []string, error) {
	values := map[string]string{}
	var order []string
	var warnings []string
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	lineNo := 0
	pending := ""
	for scanner.Scan() {
		lineNo++
		raw := scanner.Text()
		if pending == "" {
			raw = strings.TrimLeft(raw, " \t")
			if raw == "" || raw[0] == '#' || raw[0] == ';' {
				continue
			}
		}
		if strings.HasSuffix(raw, "\\") && !strings.HasSuffix(raw, "\\\\") {
			pending += strings.TrimSuffix(raw, "\\")
			continue
		}
		line := pending + raw
		pending = ""
		key, value, ok := parseAssignment(line)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s:%d: ignoring invalid environment assignment %q", file, lineNo, line))
			continue
		}
		if _, seen := values[key]; !seen {
			order = append(order, key)
		}
		values[key] = value
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("read environment file %s: %w", file, err)
	}
	return values, order, warnings, nil
}

func parseAssignment(line string) (string, string, bool) {
	eq := strings.IndexByte(line, '=')
	if eq <= 0 {
		return "", "", false
	}
	key := line[:eq]
	if !ValidEnvName(key) {
		return "", "", false
	}
	rest := strings.TrimLeft(line[eq+1:], " \t")
	var value strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch c {
		case '"':
			j := i + 1
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				value.WriteByte(rest[j])
			}
			i = j
		case '\'':
			j := i + 1
			for ; j < len(rest) && rest[j] != '\''; j++ {
				value.WriteByte(rest[j])
			}
			i = j
		case '\\':
			if i+1 < len(rest) {
				i++
				value.WriteByte(rest[i])
			}
		default:
			value.WriteByte(c)
		}
	}
	return key, strings.TrimRight(value.String(), " \t"), true
}

// ValidEnvName reports whether s is a variable name systemd accepts in an
// environment assignment.
func ValidEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// ParseEnvironment parses one Environment= value, which holds one or more
// quoted "KEY=VALUE" words.
func ParseEnvironment(value string) ([][2]string, error) {
	words, err := SplitWords(value)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range words {
		eq := strings.IndexByte(w, '=')
		if eq <= 0 || !ValidEnvName(w[:eq]) {
			return nil, fmt.Errorf("invalid environment assignment %q: expected KEY=VALUE", w)
		}
		out = append(out, [2]string{w[:eq], w[eq+1:]})
	}
	return out, nil
}
