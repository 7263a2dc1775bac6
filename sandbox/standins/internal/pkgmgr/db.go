package pkgmgr

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DBDir is where installed packages are recorded inside a host.
const DBDir = "/var/lib/rpm-standin"

// Installed is a package record in the database.
type Installed struct {
	Manifest    Manifest  `json:"manifest"`
	InstallTime time.Time `json:"installTime"`
}

func dbPath(root, name string) string {
	return filepath.Join(root, DBDir, name+".json")
}

// Lookup returns the installed record of a package, or nil.
func Lookup(root, name string) (*Installed, error) {
	data, err := os.ReadFile(dbPath(root, name))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read package database entry for %s: %w", name, err)
	}
	var rec Installed
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("parse package database entry %s: %w", dbPath(root, name), err)
	}
	return &rec, nil
}

// LookupQuery finds an installed package by name or by its full
// name-version-release.arch, as rpm -q accepts both.
func LookupQuery(root, query string) (*Installed, error) {
	if rec, err := Lookup(root, query); rec != nil || err != nil {
		return rec, err
	}
	all, err := ListInstalled(root)
	if err != nil {
		return nil, err
	}
	for _, rec := range all {
		m := rec.Manifest
		if query == m.NEVRA() || query == m.Name+"-"+m.Version+"-"+m.Release || query == m.Name+"-"+m.Version || query == m.Name+"."+m.Arch {
			return rec, nil
		}
	}
	return nil, nil
}

// ListInstalled returns every installed package sorted by name.
func ListInstalled(root string) ([]*Installed, error) {
	paths, _ := filepath.Glob(filepath.Join(root, DBDir, "*.json"))
	sort.Strings(paths)
	var out []*Installed
	for _, p := range paths {
		rec, err := Lookup(root, strings.TrimSuffix(filepath.Base(p), ".json"))
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

func record(root string, m *Manifest) error {
	if err := os.MkdirAll(filepath.Join(root, DBDir), 0o755); err != nil {
		return fmt.Errorf("create package database %s: %w", DBDir, err)
	}
	data, err := json.MarshalIndent(Installed{Manifest: *m, InstallTime: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(dbPath(root, m.Name), data, 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.rpm-standin-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}
