// Package pkgmgr is the sandbox stand-in for yum and rpm on CentOS 7. A
// package is a directory in a file:// repository holding manifest.json (the
// name, version, dependencies, system users and files the real RPM ships)
// and root/, the content of its regular files. Installing lays those files
// down, creates the users, and records the package in /var/lib/rpm-standin.
package pkgmgr

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Manifest describes one package.
type Manifest struct {
	Name     string   `json:"name"`
	Epoch    int      `json:"epoch,omitempty"`
	Version  string   `json:"version"`
	Release  string   `json:"release"`
	Arch     string   `json:"arch"`
	Summary  string   `json:"summary"`
	Size     string   `json:"size,omitempty"`
	Requires []string `json:"requires,omitempty"`
	Users    []User   `json:"users,omitempty"`
	Files    []File   `json:"files"`
	// Notes explain where the manifest differs from the real RPM and why.
	Notes []string `json:"notes,omitempty"`
	// Dir is the package directory in the repository it was read from.
	Dir  string `json:"dir,omitempty"`
	Repo string `json:"repo,omitempty"`
}

// User is a system account the RPM's %pre scriptlet creates.
type User struct {
	Name    string `json:"name"`
	Group   string `json:"group,omitempty"`
	Home    string `json:"home"`
	Shell   string `json:"shell"`
	Comment string `json:"comment"`
}

// File is one path the package owns. Type is "file" (content under root/),
// "dir" or "link". A link target "standin:NAME" points at the sandbox
// stand-in binary NAME; "host:/PATH" at a program of the machine the
// sandbox runs on, which hosts see through their /usr overlay.
type File struct {
	Path   string `json:"path"`
	Type   string `json:"type,omitempty"`
	Mode   string `json:"mode,omitempty"`
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	Config bool   `json:"config,omitempty"`
	Target string `json:"target,omitempty"`
}

// NEVRA is the "name-version-release.arch" string rpm -q prints.
func (m *Manifest) NEVRA() string {
	return fmt.Sprintf("%s-%s-%s.%s", m.Name, m.Version, m.Release, m.Arch)
}

// EVR is the version column yum prints.
func (m *Manifest) EVR() string {
	return fmt.Sprintf("%d:%s-%s", m.Epoch, m.Version, m.Release)
}

// Repo is one enabled repository from /etc/yum.repos.d.
type Repo struct {
	ID      string
	Name    string
	BaseURL string
	Enabled bool
	File    string
}

// LoadRepos parses every /etc/yum.repos.d/*.repo under root.
func LoadRepos(root string) ([]Repo, error) {
	files, _ := filepath.Glob(filepath.Join(root, "/etc/yum.repos.d/*.repo"))
	sort.Strings(files)
	var repos []Repo
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read repository file %s: %w", path, err)
		}
		var cur *Repo
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			line := strings.TrimSpace(scanner.Text())
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				repos = append(repos, Repo{ID: line[1 : len(line)-1], Enabled: true, File: path})
				cur = &repos[len(repos)-1]
				continue
			}
			eq := strings.IndexByte(line, '=')
			if cur == nil || eq < 0 {
				continue
			}
			key, value := strings.TrimSpace(line[:eq]), strings.TrimSpace(line[eq+1:])
			switch key {
			case "name":
				cur.Name = value
			case "baseurl":
				if fields := strings.Fields(value); len(fields) > 0 {
					cur.BaseURL = expandYumVars(fields[0])
				}
			case "enabled":
				cur.Enabled = value == "1" || strings.EqualFold(value, "true") || strings.EqualFold(value, "yes")
			}
		}
		f.Close()
	}
	return repos, nil
}

func expandYumVars(s string) string {
	return strings.NewReplacer("$releasever", "7", "$basearch", "x86_64", "$arch", "x86_64", "$infra", "stock", "$contentdir", "centos").Replace(s)
}

// RepoDir returns the local directory of a file:// repository, or an error
// worded like yum's when the repository cannot be read.
func (r Repo) RepoDir() (string, error) {
	if !strings.HasPrefix(r.BaseURL, "file://") {
		return "", fmt.Errorf("Cannot retrieve repository metadata (repomd.xml) for repository: %s. Please verify its path and try again\n(the sandbox yum stand-in reads only file:// repositories; baseurl is %q)", r.ID, r.BaseURL)
	}
	dir := strings.TrimPrefix(r.BaseURL, "file://")
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("file://%s/repodata/repomd.xml: [Errno 14] curl#37 - \"Couldn't open file %s/repodata/repomd.xml\"\nTrying other mirror.\n\n One of the configured repositories failed (%s)", dir, dir, r.Name)
	}
	return dir, nil
}

// Available lists the packages of all enabled repositories, the first
// repository (in file and section order) winning for a name.
func Available(root string) (map[string]*Manifest, []error) {
	repos, err := LoadRepos(root)
	if err != nil {
		return nil, []error{err}
	}
	out := map[string]*Manifest{}
	var errs []error
	for _, r := range repos {
		if !r.Enabled {
			continue
		}
		dir, err := r.RepoDir()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		manifests, _ := filepath.Glob(filepath.Join(dir, "*", "manifest.json"))
		for _, path := range manifests {
			m, err := ReadManifest(path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.Repo = r.ID
			if _, seen := out[m.Name]; !seen {
				out[m.Name] = m
			}
		}
	}
	return out, errs
}

// ReadManifest parses one manifest.json and checks its fields.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read package manifest %s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse package manifest %s: %w", path, err)
	}
	if m.Name == "" || m.Version == "" || m.Release == "" || m.Arch == "" {
		return nil, fmt.Errorf("package manifest %s: name, version, release and arch are required", path)
	}
	m.Dir = filepath.Dir(path)
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("package manifest %s: file path %q is not absolute", path, f.Path)
		}
		switch f.Type {
		case "", "file":
			if _, err := os.Stat(filepath.Join(m.Dir, "root", f.Path)); err != nil {
				return nil, fmt.Errorf("package manifest %s: content of %s missing under root/: %w", path, f.Path, err)
			}
		case "dir":
		case "link":
			if f.Target == "" {
				return nil, fmt.Errorf("package manifest %s: link %s has no target", path, f.Path)
			}
		default:
			return nil, fmt.Errorf("package manifest %s: file %s has unknown type %q (expected file, dir or link)", path, f.Path, f.Type)
		}
	}
	return &m, nil
}
