package unit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SearchDirs are the unit directories in priority order: a fragment in an
// earlier directory hides one with the same name in a later directory.
var SearchDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"}

// Load states as "systemctl show -p LoadState" prints them.
const (
	LoadLoaded   = "loaded"
	LoadNotFound = "not-found"
	LoadMasked   = "masked"
	LoadError    = "error"
)

// Unit is one loaded unit definition: its fragment, its drop-ins applied in
// order, and the file state needed to notice edits made without a
// daemon-reload.
type Unit struct {
	Name         string
	LoadState    string
	LoadError    string
	FragmentPath string
	DropInPaths  []string
	Entries      []Entry
	// Warnings are problems found while loading that do not stop the unit.
	Warnings []string
	stamps   map[string]time.Time
}

// Type is the unit type suffix, such as "service" or "target".
func (u *Unit) Type() string {
	if i := strings.LastIndexByte(u.Name, '.'); i >= 0 {
		return u.Name[i+1:]
	}
	return ""
}

// NormalizeName appends ".service" to a name without a unit type suffix, as
// systemctl does.
func NormalizeName(name string) string {
	for _, suffix := range []string{".service", ".target", ".timer", ".socket", ".mount", ".path", ".slice", ".scope", ".device", ".swap", ".automount"} {
		if strings.HasSuffix(name, suffix) {
			return name
		}
	}
	return name + ".service"
}

// Load finds and parses the unit called name under root. A unit that is not
// found is returned with LoadState "not-found" and no error, as systemd
// keeps such units around.
func Load(root, name string) *Unit {
	u := &Unit{Name: name, LoadState: LoadNotFound, stamps: map[string]time.Time{}}
	for _, dir := range SearchDirs {
		path := filepath.Join(dir, name)
		full := filepath.Join(root, path)
		info, err := os.Lstat(full)
		if err != nil {
			continue
		}
		u.stamps[path] = info.ModTime()
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(full)
			if err == nil && target == "/dev/null" {
				u.FragmentPath = path
				u.LoadState = LoadMasked
				return u
			}
		}
		data, err := os.ReadFile(full)
		if err != nil {
			u.LoadState = LoadError
			u.LoadError = fmt.Sprintf("read unit file %s: %v", path, err)
			return u
		}
		entries, err := ParseFile(bytes.NewReader(data), path)
		if err != nil {
			u.LoadState = LoadError
			u.LoadError = err.Error()
			return u
		}
		u.FragmentPath = path
		u.Entries = entries
		u.LoadState = LoadLoaded
		break
	}
	for _, path := range DropInFiles(root, name) {
		data, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			u.Warnings = append(u.Warnings, fmt.Sprintf("skipping drop-in %s: %v", path, err))
			continue
		}
		if info, err := os.Stat(filepath.Join(root, path)); err == nil {
			u.stamps[path] = info.ModTime()
		}
		entries, err := ParseFile(bytes.NewReader(data), path)
		if err != nil {
			u.Warnings = append(u.Warnings, fmt.Sprintf("skipping drop-in: %v", err))
			continue
		}
		u.DropInPaths = append(u.DropInPaths, path)
		u.Entries = append(u.Entries, entries...)
		// systemd loads a unit that exists only as drop-ins, like a
		// transient unit with settings but no fragment.
		if u.LoadState == LoadNotFound {
			u.LoadState = LoadLoaded
		}
	}
	for _, dir := range SearchDirs {
		for _, suffix := range []string{".d", ".wants", ".requires"} {
			path := filepath.Join(dir, name+suffix)
			if info, err := os.Stat(filepath.Join(root, path)); err == nil {
				u.stamps[path] = info.ModTime()
			}
		}
	}
	return u
}

// DropInFiles lists "<name>.d/*.conf" from all search directories, a file in
// a higher-priority directory hiding one with the same base name in a lower
// one, sorted by base name: the order systemd applies them in.
func DropInFiles(root, name string) []string {
	byBase := map[string]string{}
	for i := len(SearchDirs) - 1; i >= 0; i-- {
		dir := filepath.Join(SearchDirs[i], name+".d")
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			byBase[e.Name()] = filepath.Join(dir, e.Name())
		}
	}
	bases := make([]string, 0, len(byBase))
	for b := range byBase {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	paths := make([]string, 0, len(bases))
	for _, b := range bases {
		paths = append(paths, byBase[b])
	}
	return paths
}

// ChangedOnDisk reports whether any file the unit was loaded from (or a file
// that now shadows it) changed since it was loaded: systemd's
// NeedDaemonReload.
func (u *Unit) ChangedOnDisk(root string) bool {
	fresh := Load(root, u.Name)
	if len(fresh.stamps) != len(u.stamps) {
		return true
	}
	for path, t := range fresh.stamps {
		if old, ok := u.stamps[path]; !ok || !old.Equal(t) {
			return true
		}
	}
	return false
}

// Values returns the values of a key in order, an empty assignment clearing
// what came before (so a drop-in can reset ExecStart= or After=).
func (u *Unit) Values(section, key string) []string {
	var out []string
	for _, e := range u.Entries {
		if e.Section != section || e.Key != key {
			continue
		}
		if e.Value == "" {
			out = nil
			continue
		}
		out = append(out, e.Value)
	}
	return out
}

// Value returns the last value of a key, or def when it is unset or reset.
func (u *Unit) Value(section, key, def string) string {
	v := def
	for _, e := range u.Entries {
		if e.Section == section && e.Key == key {
			v = e.Value
			if v == "" {
				v = def
			}
		}
	}
	return v
}

// List returns the whitespace-separated names of a list key such as After=.
func (u *Unit) List(section, key string) []string {
	var out []string
	for _, v := range u.Values(section, key) {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// DirDeps lists units named in "<name>.wants/" or "<name>.requires/" of any
// search directory, which add Wants= or Requires= (what "systemctl enable"
// creates for WantedBy= and RequiredBy=).
func DirDeps(root, name, suffix string, dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(filepath.Join(root, dir, name+suffix))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

// Command is one Exec*= line with its prefix flags decoded.
type Command struct {
	Raw           string
	Argv          []string
	IgnoreFailure bool
}

// Commands parses the Exec*= lines of a key. Prefixes "-" (ignore failure)
// and "@", "+", "!", ":" are accepted; only "-" changes behaviour here.
func (u *Unit) Commands(key string) ([]Command, error) {
	var out []Command
	for _, v := range u.Values("Service", key) {
		cmd := Command{Raw: v}
		rest := v
		for len(rest) > 0 && strings.ContainsRune("-@+!:", rune(rest[0])) {
			if rest[0] == '-' {
				cmd.IgnoreFailure = true
			}
			rest = rest[1:]
		}
		words, err := SplitWords(ReplaceSpecifiers(rest, u.Name))
		if err != nil {
			return nil, fmt.Errorf("%s: invalid %s=%s: %w", u.Name, key, v, err)
		}
		if len(words) == 0 {
			continue
		}
		if !strings.HasPrefix(words[0], "/") {
			return nil, fmt.Errorf("%s: %s=%s: executable path %q is not absolute", u.Name, key, v, words[0])
		}
		cmd.Argv = words
		out = append(out, cmd)
	}
	return out, nil
}

// EnvFile is one EnvironmentFile= entry.
type EnvFile struct {
	Path     string
	Optional bool
}

// EnvironmentFiles lists EnvironmentFile= entries in order.
func (u *Unit) EnvironmentFiles() []EnvFile {
	var out []EnvFile
	for _, v := range u.Values("Service", "EnvironmentFile") {
		optional := strings.HasPrefix(v, "-")
		out = append(out, EnvFile{Path: ReplaceSpecifiers(strings.TrimPrefix(v, "-"), u.Name), Optional: optional})
	}
	return out
}

// Environment merges the Environment= assignments in order.
func (u *Unit) Environment() ([][2]string, error) {
	var out [][2]string
	for _, v := range u.Values("Service", "Environment") {
		pairs, err := ParseEnvironment(ReplaceSpecifiers(v, u.Name))
		if err != nil {
			return nil, fmt.Errorf("%s: Environment=%s: %w", u.Name, v, err)
		}
		out = append(out, pairs...)
	}
	return out, nil
}

// ErrMissingEnvFile is returned when a required EnvironmentFile= is absent.
var ErrMissingEnvFile = errors.New("environment file not found")

// ResolveEnvironment builds the environment of a service process: base, then
// Environment=, then EnvironmentFile= in order (a later file overriding an
// earlier one, and files overriding Environment= as systemd documents).
func (u *Unit) ResolveEnvironment(root string, base map[string]string) (map[string]string, []string, error) {
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	pairs, err := u.Environment()
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pairs {
		env[p[0]] = p[1]
	}
	var warnings []string
	for _, f := range u.EnvironmentFiles() {
		data, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			if f.Optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, warnings, fmt.Errorf("%s: failed to load environment file %s: %w", u.Name, f.Path, err)
		}
		values, order, warns, err := ParseEnvFile(bytes.NewReader(data), f.Path)
		if err != nil {
			return nil, warnings, err
		}
		warnings = append(warnings, warns...)
		for _, k := range order {
			env[k] = values[k]
		}
	}
	return env, warnings, nil
}

// ReplaceSpecifiers expands the unit specifiers the sandbox supports:
// %n (full name), %N and %p (name without type suffix), %i (instance),
// %H (host name) and %% (a literal percent sign).
func ReplaceSpecifiers(s, name string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	prefix := strings.TrimSuffix(name, filepath.Ext(name))
	instance := ""
	if at := strings.IndexByte(prefix, '@'); at >= 0 {
		instance = prefix[at+1:]
		prefix = prefix[:at]
	}
	host, _ := os.Hostname()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteString(name)
		case 'N':
			b.WriteString(strings.TrimSuffix(name, filepath.Ext(name)))
		case 'p':
			b.WriteString(prefix)
		case 'i':
			b.WriteString(instance)
		case 'H':
			b.WriteString(host)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
