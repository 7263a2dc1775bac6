package pkgmgr

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StandinBinDir is the directory holding the stand-in binaries that
// "standin:NAME" link targets resolve against: the directory of the running
// executable, which build.sh fills with one symlink per stand-in.
func StandinBinDir() string {
	if d := os.Getenv("KBOOT_STANDIN_BIN"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return "/nonexistent-kboot-standin-dir"
	}
	return filepath.Dir(exe)
}

func resolveTarget(target string) (string, error) {
	switch {
	case strings.HasPrefix(target, "standin:"):
		return filepath.Join(StandinBinDir(), strings.TrimPrefix(target, "standin:")), nil
	case strings.HasPrefix(target, "host:"):
		return strings.TrimPrefix(target, "host:"), nil
	case strings.HasPrefix(target, "/"):
		return target, nil
	}
	return "", fmt.Errorf("invalid link target %q: expected standin:NAME, host:/PATH or an absolute path", target)
}

// installFiles lays down one package's users, directories, files and links.
// Configuration files (%config(noreplace) in the spec file) that exist with
// other content are kept, and the packaged version is written next to them
// as .rpmnew, as rpm does.
func installFiles(root string, m *Manifest, out io.Writer) error {
	for _, u := range m.Users {
		if err := ensureUser(root, u); err != nil {
			return fmt.Errorf("create user %s for %s: %w", u.Name, m.Name, err)
		}
	}
	for _, f := range m.Files {
		full := filepath.Join(root, f.Path)
		mode, err := parseMode(f.Mode, f.Type)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", m.Name, f.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("%s: create parent of %s: %w", m.Name, f.Path, err)
		}
		switch f.Type {
		case "dir":
			if err := os.MkdirAll(full, mode); err != nil {
				return fmt.Errorf("%s: create directory %s: %w", m.Name, f.Path, err)
			}
			if err := os.Chmod(full, mode); err != nil {
				return err
			}
		case "link":
			target, err := resolveTarget(f.Target)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", m.Name, f.Path, err)
			}
			if _, err := os.Stat(filepath.Join(root, target)); err != nil && strings.HasPrefix(f.Target, "host:") {
				return fmt.Errorf("%s: %s needs %s from the machine, which is missing: install it there (Debian package) and retry", m.Name, f.Path, target)
			}
			if _, err := os.Stat(target); err != nil && strings.HasPrefix(f.Target, "standin:") {
				return fmt.Errorf("%s: stand-in binary %s is missing: run sandbox/standins/build.sh", m.Name, target)
			}
			if target == f.Path {
				// The machine's own program is already at this path in
				// the host's /usr overlay.
				continue
			}
			if current, err := os.Readlink(full); err == nil && current == target {
				continue
			}
			_ = os.Remove(full)
			if err := os.Symlink(target, full); err != nil {
				return fmt.Errorf("%s: link %s to %s: %w", m.Name, f.Path, target, err)
			}
			continue
		default:
			data, err := os.ReadFile(filepath.Join(m.Dir, "root", f.Path))
			if err != nil {
				return fmt.Errorf("%s: read packaged %s: %w", m.Name, f.Path, err)
			}
			if f.Config {
				if existing, err := os.ReadFile(full); err == nil {
					if !bytes.Equal(existing, data) {
						if err := writeAtomic(full+".rpmnew", data, mode); err != nil {
							return err
						}
						fmt.Fprintf(out, "warning: %s created as %s.rpmnew\n", f.Path, f.Path)
					}
					continue
				}
			}
			if err := writeAtomic(full, data, mode); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		if err := chownNamed(root, full, f.Owner, f.Group); err != nil {
			return fmt.Errorf("%s: %s: %w", m.Name, f.Path, err)
		}
	}
	return nil
}

func parseMode(s, typ string) (os.FileMode, error) {
	if s == "" {
		if typ == "dir" {
			return 0o755, nil
		}
		return 0o644, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid mode %q: expected octal such as 0644", s)
	}
	return os.FileMode(v), nil
}

func chownNamed(root, path, owner, group string) error {
	if owner == "" && group == "" {
		return nil
	}
	uid, gid := -1, -1
	if owner != "" && owner != "root" {
		id, _, err := idFromFile(filepath.Join(root, "/etc/passwd"), owner)
		if err != nil {
			return err
		}
		uid = id
	}
	if group != "" && group != "root" {
		id, _, err := idFromFile(filepath.Join(root, "/etc/group"), group)
		if err != nil {
			return err
		}
		gid = id
	}
	return os.Lchown(path, uid, gid)
}

// idFromFile returns the numeric id (third field) of name in a passwd or
// group file, and the group id (fourth field) for passwd lines.
func idFromFile(path, name string) (int, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 && fields[0] == name {
			id, err := strconv.Atoi(fields[2])
			gid := -1
			if len(fields) >= 4 {
				gid, _ = strconv.Atoi(fields[3])
			}
			return id, gid, err
		}
	}
	return 0, 0, fmt.Errorf("%q not found in %s", name, path)
}

// ensureUser creates a system user and group the way "useradd -r" does
// (the highest free id below 1000, the uid equal to the gid when that is
// free), writing the host's
// passwd, group, shadow and gshadow files directly so it also works under
// a scratch root in tests.
func ensureUser(root string, u User) error {
	passwd := filepath.Join(root, "/etc/passwd")
	group := filepath.Join(root, "/etc/group")
	groupName := u.Group
	if groupName == "" {
		groupName = u.Name
	}
	gid, _, err := idFromFile(group, groupName)
	if err != nil {
		gid, err = freeID(group)
		if err != nil {
			return err
		}
		if err := appendLine(group, fmt.Sprintf("%s:x:%d:", groupName, gid)); err != nil {
			return err
		}
		appendIfExists(filepath.Join(root, "/etc/gshadow"), fmt.Sprintf("%s:!::", groupName))
	}
	if _, _, err := idFromFile(passwd, u.Name); err == nil {
		return nil
	}
	uid := gid
	if idUsed(passwd, gid) {
		if uid, err = freeID(passwd); err != nil {
			return err
		}
	}
	if err := appendLine(passwd, fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.Name, uid, gid, u.Comment, u.Home, u.Shell)); err != nil {
		return err
	}
	appendIfExists(filepath.Join(root, "/etc/shadow"), fmt.Sprintf("%s:!!:19000::::::", u.Name))
	return nil
}

func usedIDs(path string) map[int]bool {
	used := map[int]bool{}
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 {
			if id, err := strconv.Atoi(fields[2]); err == nil {
				used[id] = true
			}
		}
	}
	return used
}

func idUsed(path string, id int) bool { return usedIDs(path)[id] }

func freeID(path string) (int, error) {
	used := usedIDs(path)
	for id := 999; id >= 201; id-- {
		if !used[id] {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no free system id between 201 and 999 in %s", path)
}

func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	_, err = f.WriteString(line + "\n")
	return err
}

func appendIfExists(path, line string) {
	if _, err := os.Stat(path); err == nil {
		_ = appendLine(path, line)
	}
}

// removeFiles deletes what a package installed, keeping modified
// configuration files as .rpmsave like rpm -e does.
func removeFiles(root string, m *Manifest, out io.Writer) {
	for i := len(m.Files) - 1; i >= 0; i-- {
		f := m.Files[i]
		full := filepath.Join(root, f.Path)
		switch f.Type {
		case "dir":
			_ = os.Remove(full)
		case "link":
			target, _ := resolveTarget(f.Target)
			if target != f.Path {
				_ = os.Remove(full)
			}
		default:
			if f.Config {
				packaged, _ := os.ReadFile(filepath.Join(m.Dir, "root", f.Path))
				if current, err := os.ReadFile(full); err == nil && !bytes.Equal(current, packaged) {
					_ = os.Rename(full, full+".rpmsave")
					fmt.Fprintf(out, "warning: %s saved as %s.rpmsave\n", f.Path, f.Path)
					continue
				}
			}
			_ = os.Remove(full)
		}
	}
}
