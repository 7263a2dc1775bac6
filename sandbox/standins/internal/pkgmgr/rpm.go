package pkgmgr

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kboot/sandbox/standins/internal/events"
)

const rpmUsage = `Usage: rpm [OPTION...]

Sandbox stand-in for rpm 4.11 (CentOS 7), answering queries about the
packages the sandbox yum stand-in installed (recorded in /var/lib/rpm-standin):
  -q PKG...          print name-version-release.arch, or "package PKG is not
                     installed"; the exit code is the number not installed
  -qa                list all installed packages
  -ql PKG            list the files of a package
  -qi PKG            show package information
  -qf FILE           show the package owning FILE
  --qf, --queryformat FMT   format with %{NAME} %{VERSION} %{RELEASE} %{ARCH}
  -e PKG...          erase packages
  --root DIR         operate on the file system under DIR
`

// RpmMain runs rpm with the arguments after argv[0].
func RpmMain(args []string, stdout, stderr io.Writer) int {
	root := events.Root()
	mode := ""
	format := ""
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, rpmUsage)
			return 0
		case a == "--root" || a == "--qf" || a == "--queryformat":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "rpm: option %s requires an argument\n", a)
				return 1
			}
			i++
			if a == "--root" {
				root = args[i]
			} else {
				format = args[i]
			}
		case strings.HasPrefix(a, "--root="):
			root = strings.TrimPrefix(a, "--root=")
		case strings.HasPrefix(a, "--qf=") || strings.HasPrefix(a, "--queryformat="):
			format = a[strings.IndexByte(a, '=')+1:]
		case a == "-q" || a == "--query":
			mode = "q"
		case a == "-qa" || a == "-aq" || a == "-a" || a == "--all":
			mode = "qa"
		case a == "-ql" || a == "-l" || a == "--list":
			mode = "ql"
		case a == "-qi" || a == "-i" || a == "--info":
			mode = "qi"
		case a == "-qf" || a == "-f" || a == "--file":
			mode = "qf"
		case a == "-e" || a == "--erase":
			mode = "e"
		case a == "--quiet" || a == "--nodeps":
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "rpm: %s: unknown option\n", a)
			return 1
		default:
			names = append(names, a)
		}
	}
	switch mode {
	case "qa":
		all, err := ListInstalled(root)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, rec := range all {
			fmt.Fprint(stdout, formatQuery(&rec.Manifest, format))
		}
		return 0
	case "":
		fmt.Fprintln(stderr, "rpm: no operation given: use -q, -qa, -ql, -qi, -qf or -e (see --help)")
		return 1
	}
	if len(names) == 0 {
		fmt.Fprintln(stderr, "rpm: no arguments given for query")
		return 1
	}
	missing := 0
	for _, n := range names {
		if mode == "qf" {
			if !queryFile(root, n, format, stdout) {
				fmt.Fprintf(stdout, "file %s is not owned by any package\n", n)
				missing++
			}
			continue
		}
		rec, err := LookupQuery(root, n)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if rec == nil {
			if mode == "e" {
				fmt.Fprintf(stderr, "error: package %s is not installed\n", n)
			} else {
				fmt.Fprintf(stdout, "package %s is not installed\n", n)
			}
			missing++
			continue
		}
		m := &rec.Manifest
		switch mode {
		case "q":
			fmt.Fprint(stdout, formatQuery(m, format))
		case "ql":
			for _, f := range m.Files {
				fmt.Fprintln(stdout, f.Path)
			}
		case "qi":
			fmt.Fprintf(stdout, "Name        : %s\nVersion     : %s\nRelease     : %s\nArchitecture: %s\nInstall Date: %s\nSize        : %s\nSummary     : %s\n",
				m.Name, m.Version, m.Release, m.Arch, rec.InstallTime.Format("Mon 02 Jan 2006 03:04:05 PM MST"), m.Size, m.Summary)
		case "e":
			if os.Geteuid() != 0 {
				fmt.Fprintf(stderr, "error: can't create transaction lock on /var/lib/rpm/.rpm.lock (Permission denied)\n")
				return 1
			}
			removeFiles(root, m, stdout)
			if err := os.Remove(dbPath(root, m.Name)); err != nil {
				fmt.Fprintf(stderr, "error: remove %s from the package database: %v\n", m.Name, err)
				return 1
			}
		}
	}
	if missing > 255 {
		missing = 255
	}
	return missing
}

func formatQuery(m *Manifest, format string) string {
	if format == "" {
		return m.NEVRA() + "\n"
	}
	r := strings.NewReplacer("%{NAME}", m.Name, "%{name}", m.Name, "%{VERSION}", m.Version, "%{version}", m.Version,
		"%{RELEASE}", m.Release, "%{release}", m.Release, "%{ARCH}", m.Arch, "%{arch}", m.Arch,
		"%{SUMMARY}", m.Summary, "%{EPOCH}", fmt.Sprint(m.Epoch), `\n`, "\n", `\t`, "\t")
	return r.Replace(format)
}

func queryFile(root, path, format string, stdout io.Writer) bool {
	all, err := ListInstalled(root)
	if err != nil {
		return false
	}
	clean := filepath.Clean(path)
	found := false
	for _, rec := range all {
		for _, f := range rec.Manifest.Files {
			if f.Path == clean {
				fmt.Fprint(stdout, formatQuery(&rec.Manifest, format))
				found = true
				break
			}
		}
	}
	return found
}
