package unit

import "strings"

// ExpandArgv applies systemd's variable substitution to the words of an
// Exec*= line: a word that is exactly "$NAME" becomes the value split at
// whitespace (zero or more words, quotes honoured); "${NAME}" anywhere in a
// word is replaced by the exact value and keeps the word whole; "$$" is a
// literal "$". Undefined variables expand to nothing. Anything else after a
// "$" (such as bash's "$(nproc)") is kept literally for the program to see.
func ExpandArgv(words []string, env map[string]string) []string {
	var out []string
	for _, w := range words {
		if len(w) > 1 && w[0] == '$' && w[1] != '{' && w[1] != '$' {
			value, ok := env[w[1:]]
			if !ok {
				continue
			}
			split, err := SplitWords(value)
			if err != nil {
				split = strings.Fields(value)
			}
			out = append(out, split...)
			continue
		}
		out = append(out, ExpandWord(w, env))
	}
	return out
}

// ExpandWord replaces "${NAME}" and "$$" inside one word.
func ExpandWord(w string, env map[string]string) string {
	if !strings.Contains(w, "$") {
		return w
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '$' || i+1 >= len(w) {
			b.WriteByte(w[i])
			continue
		}
		switch w[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(w[i+2:], '}')
			if end < 0 {
				b.WriteString(w[i:])
				return b.String()
			}
			b.WriteString(env[w[i+2:i+2+end]])
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
