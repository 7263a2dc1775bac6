package pkgmgr

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/events"
)

// LockPath is yum's lock file; HangPath makes yum hang while holding the
// lock, for fault tests.
const (
	LockPath = "/var/run/yum.pid"
	HangPath = "/etc/kboot-sandbox/yum-hang"
)

// Bounds on waits that real yum lets run forever.
var (
	lockWaitLimit = 10 * time.Minute
	hangLimit     = 30 * time.Minute
	pollInterval  = 2 * time.Second
)

const yumUsage = `Usage: yum [options] COMMAND

Sandbox stand-in for yum 3.4.3 (CentOS 7). It keeps yum's contract for
install, remove/erase, list installed, repolist, makecache and clean:
repositories from /etc/yum.repos.d/*.repo (file:// baseurl only), the
/var/run/yum.pid lock, "No package X available." and the exit codes.
Packages are manifests in the kboot sandbox repository, not RPMs.

Options:
  -y, --assumeyes       answer yes for all questions
  -q, --quiet           quiet operation
  --installroot=DIR     operate on the file system under DIR
  --disablerepo=ID, --enablerepo=ID, --nogpgcheck, --setopt=..., -d N, -e N
                        accepted and ignored
`

type yumOptions struct {
	assumeYes bool
	quiet     bool
	root      string
}

// YumMain runs yum with the arguments after argv[0].
func YumMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts := yumOptions{root: events.Root()}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprint(stdout, yumUsage)
			return 0
		case a == "-y" || a == "--assumeyes":
			opts.assumeYes = true
		case a == "-q" || a == "--quiet":
			opts.quiet = true
		case strings.HasPrefix(a, "--installroot="):
			opts.root = strings.TrimPrefix(a, "--installroot=")
		case a == "-d" || a == "-e" || a == "-c" || a == "--disablerepo" || a == "--enablerepo":
			i++
		case strings.HasPrefix(a, "--disablerepo=") || strings.HasPrefix(a, "--enablerepo=") || strings.HasPrefix(a, "--setopt=") ||
			a == "--nogpgcheck" || a == "-C" || a == "--cacheonly" || strings.HasPrefix(a, "-d") || strings.HasPrefix(a, "-e") || a == "--noplugins":
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "Command line error: no such option: %s\n", a)
			return 1
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) == 0 {
		fmt.Fprintln(stderr, "You need to give some command")
		fmt.Fprint(stderr, yumUsage)
		return 1
	}
	cmd, names := positional[0], positional[1:]
	switch cmd {
	case "install", "remove", "erase":
		if os.Geteuid() != 0 {
			fmt.Fprintln(stderr, "You need to be root to perform this command.")
			return 1
		}
		if len(names) == 0 {
			fmt.Fprintf(stderr, "Error: Need to pass a list of pkgs to %s\n", cmd)
			return 1
		}
	case "list", "repolist", "makecache", "clean", "check-update", "info":
	default:
		fmt.Fprintf(stderr, "No such command: %s. Please use /usr/bin/yum --help\n", cmd)
		return 1
	}

	if !opts.quiet {
		fmt.Fprintln(stdout, "Loaded plugins: fastestmirror")
	}
	switch cmd {
	case "list":
		return yumList(opts, names, stdout, stderr)
	case "repolist":
		return yumRepolist(opts, stdout, stderr)
	case "makecache", "clean", "check-update", "info":
		if cmd == "makecache" {
			fmt.Fprintln(stdout, "Metadata Cache Created")
		}
		return 0
	}

	unlock, err := takeLock(opts.root, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer unlock()
	if err := hangIfRequested(opts.root); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cmd == "install" {
		return yumInstall(opts, names, stdin, stdout, stderr)
	}
	return yumRemove(opts, names, stdin, stdout, stderr)
}

// takeLock creates /var/run/yum.pid exclusively. A lock held by a live
// process is waited for (bounded) with yum's message; a stale one, left by
// a killed yum, is removed as yum does.
func takeLock(root string, stdout io.Writer) (func(), error) {
	path := filepath.Join(root, LockPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create lock directory for %s: %w", LockPath, err)
	}
	deadline := time.Now().Add(lockWaitLimit)
	announced := false
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create yum lock %s: %w", LockPath, err)
		}
		data, _ := os.ReadFile(path)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr != nil || pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			os.Remove(path)
			continue
		}
		if !announced {
			fmt.Fprintln(stdout, "Existing lock /var/run/yum.pid: another copy is running as pid", pid)
			announced = true
		}
		fmt.Fprintln(stdout, "Another app is currently holding the yum lock; waiting for it to exit...")
		fmt.Fprintf(stdout, "  The other application is: yum\n    State  : Sleeping, pid: %d\n", pid)
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out after %s waiting for the yum lock %s held by pid %d; stop that yum or remove the lock if it is stale", lockWaitLimit, LockPath, pid)
		}
		time.Sleep(pollInterval)
	}
}

func hangIfRequested(root string) error {
	path := filepath.Join(root, HangPath)
	deadline := time.Now().Add(hangLimit)
	for {
		if _, err := os.Stat(path); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("yum hung on purpose for %s because %s exists; giving up", hangLimit, HangPath)
		}
		time.Sleep(time.Second)
	}
}

// resolve returns the packages to install in dependency order (each after
// the packages it requires), or the names no enabled repository has.
func resolve(avail map[string]*Manifest, names []string) ([]*Manifest, []string) {
	var order []*Manifest
	var missing []string
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		m, ok := avail[name]
		if !ok {
			missing = append(missing, name)
			return
		}
		for _, dep := range m.Requires {
			visit(dep)
		}
		order = append(order, m)
	}
	for _, n := range names {
		visit(n)
	}
	return order, missing
}

func yumInstall(opts yumOptions, names []string, stdin io.Reader, stdout, stderr io.Writer) int {
	repos, err := LoadRepos(opts.root)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	enabled := 0
	for _, r := range repos {
		if r.Enabled {
			enabled++
		}
	}
	if enabled == 0 {
		fmt.Fprintln(stderr, "There are no enabled repos.\n Run \"yum repolist all\" to see the repos you have.\n You can enable repos with yum-config-manager --enable <repo>")
		return 1
	}
	avail, repoErrs := Available(opts.root)
	for _, e := range repoErrs {
		fmt.Fprintln(stderr, e)
	}
	exit := 0
	var requested []string
	for _, n := range names {
		if rec, err := Lookup(opts.root, n); err == nil && rec != nil {
			fmt.Fprintf(stdout, "Package %s already installed and latest version\n", rec.Manifest.NEVRA())
			continue
		}
		if _, ok := avail[n]; !ok {
			fmt.Fprintf(stdout, "No package %s available.\n", n)
			exit = 1
			continue
		}
		requested = append(requested, n)
	}
	order, missing := resolve(avail, requested)
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "Error: Package: requires %s, which no enabled repository provides\n", strings.Join(missing, ", "))
		return 1
	}
	var todo []*Manifest
	for _, m := range order {
		if rec, _ := Lookup(opts.root, m.Name); rec == nil {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		if exit != 0 {
			fmt.Fprintln(stderr, "Error: Nothing to do")
		} else {
			fmt.Fprintln(stdout, "Nothing to do")
		}
		return exit
	}
	isRequested := map[string]bool{}
	for _, n := range requested {
		isRequested[n] = true
	}
	printTransaction(stdout, "Installing", todo, isRequested)
	if !confirm(opts, stdin, stdout) {
		fmt.Fprintln(stdout, "Exiting on user command")
		fmt.Fprintln(stdout, "Your transaction was saved, rerun it with:\n yum load-transaction /tmp/yum_save_tx.kboot-sandbox.yumtx")
		return 1
	}
	fmt.Fprintln(stdout, "Downloading packages:\nRunning transaction check\nRunning transaction test\nTransaction test succeeded\nRunning transaction")
	for i, m := range todo {
		fmt.Fprintf(stdout, "  Installing : %-60s %d/%d\n", m.NEVRA(), i+1, len(todo))
		if err := installFiles(opts.root, m, stdout); err != nil {
			fmt.Fprintf(stderr, "Error unpacking rpm package %s\nerror: %v\n", m.NEVRA(), err)
			return 1
		}
		if err := record(opts.root, m); err != nil {
			fmt.Fprintf(stderr, "error: record %s in the package database: %v\n", m.Name, err)
			return 1
		}
		if err := events.Append(opts.root, "install", m.Name); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}
	for i, m := range todo {
		fmt.Fprintf(stdout, "  Verifying  : %-60s %d/%d\n", m.NEVRA(), i+1, len(todo))
	}
	fmt.Fprintln(stdout)
	printInstalled(stdout, "Installed", todo, isRequested, true)
	printInstalled(stdout, "Dependency Installed", todo, isRequested, false)
	fmt.Fprintln(stdout, "\nComplete!")
	return exit
}

func confirm(opts yumOptions, stdin io.Reader, stdout io.Writer) bool {
	if opts.assumeYes {
		return true
	}
	fmt.Fprint(stdout, "Is this ok [y/d/N]: ")
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

func printTransaction(w io.Writer, verb string, todo []*Manifest, requested map[string]bool) {
	rule := strings.Repeat("=", 80)
	fmt.Fprintln(w, "Resolving Dependencies\n--> Running transaction check")
	for _, m := range todo {
		action := "installed"
		if verb == "Removing" {
			action = "erased"
		}
		fmt.Fprintf(w, "---> Package %s.%s %s will be %s\n", m.Name, m.Arch, m.EVR(), action)
	}
	fmt.Fprintf(w, "--> Finished Dependency Resolution\n\nDependencies Resolved\n\n%s\n", rule)
	fmt.Fprintf(w, " %-22s %-8s %-28s %-16s %s\n%s\n", "Package", "Arch", "Version", "Repository", "Size", rule)
	fmt.Fprintf(w, "%s:\n", verb)
	for _, m := range todo {
		if requested[m.Name] {
			fmt.Fprintf(w, " %-22s %-8s %-28s %-16s %s\n", m.Name, m.Arch, m.Version+"-"+m.Release, m.Repo, m.Size)
		}
	}
	var deps []*Manifest
	for _, m := range todo {
		if !requested[m.Name] {
			deps = append(deps, m)
		}
	}
	if len(deps) > 0 {
		fmt.Fprintf(w, "%s for dependencies:\n", verb)
		for _, m := range deps {
			fmt.Fprintf(w, " %-22s %-8s %-28s %-16s %s\n", m.Name, m.Arch, m.Version+"-"+m.Release, m.Repo, m.Size)
		}
	}
	noun := "Package"
	if len(todo) > 1 {
		noun = "Packages"
	}
	short := "Install"
	if verb == "Removing" {
		short = "Remove"
	}
	fmt.Fprintf(w, "\nTransaction Summary\n%s\n%s  %d %s\n\n", rule, short, len(todo), noun)
}

func printInstalled(w io.Writer, title string, todo []*Manifest, requested map[string]bool, wantRequested bool) {
	var items []string
	for _, m := range todo {
		if requested[m.Name] == wantRequested {
			items = append(items, fmt.Sprintf("%s.%s %s", m.Name, m.Arch, m.EVR()))
		}
	}
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n  %s\n\n", title, strings.Join(items, "  "))
}

func yumRemove(opts yumOptions, names []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var todo []*Installed
	for _, n := range names {
		rec, err := Lookup(opts.root, n)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if rec == nil {
			fmt.Fprintf(stdout, "No Match for argument: %s\n", n)
			continue
		}
		todo = append(todo, rec)
	}
	if len(todo) == 0 {
		fmt.Fprintln(stdout, "No Packages marked for removal")
		return 0
	}
	var manifests []*Manifest
	requested := map[string]bool{}
	for _, rec := range todo {
		m := rec.Manifest
		manifests = append(manifests, &m)
		requested[m.Name] = true
	}
	printTransaction(stdout, "Removing", manifests, requested)
	if !confirm(opts, stdin, stdout) {
		fmt.Fprintln(stdout, "Exiting on user command")
		return 1
	}
	for i, m := range manifests {
		fmt.Fprintf(stdout, "  Erasing    : %-60s %d/%d\n", m.NEVRA(), i+1, len(manifests))
		removeFiles(opts.root, m, stdout)
		if err := os.Remove(dbPath(opts.root, m.Name)); err != nil {
			fmt.Fprintf(stderr, "error: remove %s from the package database: %v\n", m.Name, err)
			return 1
		}
	}
	fmt.Fprintln(stdout, "\nRemoved:")
	for _, m := range manifests {
		fmt.Fprintf(stdout, "  %s.%s %s\n", m.Name, m.Arch, m.EVR())
	}
	fmt.Fprintln(stdout, "\nComplete!")
	return 0
}

func yumList(opts yumOptions, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "installed" {
		fmt.Fprintln(stderr, "The sandbox yum stand-in lists installed packages only: use \"yum list installed [PKG...]\"")
		return 1
	}
	all, err := ListInstalled(opts.root)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	filter := map[string]bool{}
	for _, a := range args[1:] {
		filter[a] = true
	}
	var lines []string
	for _, rec := range all {
		m := rec.Manifest
		if len(filter) > 0 && !filter[m.Name] {
			continue
		}
		lines = append(lines, fmt.Sprintf("%-40s %-30s @%s", m.Name+"."+m.Arch, m.Version+"-"+m.Release, m.Repo))
	}
	if len(lines) == 0 {
		fmt.Fprintln(stderr, "Error: No matching Packages to list")
		return 1
	}
	sort.Strings(lines)
	fmt.Fprintln(stdout, "Installed Packages")
	fmt.Fprintln(stdout, strings.Join(lines, "\n"))
	return 0
}

func yumRepolist(opts yumOptions, stdout, stderr io.Writer) int {
	repos, err := LoadRepos(opts.root)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%-30s %-40s %s\n", "repo id", "repo name", "status")
	total := 0
	for _, r := range repos {
		if !r.Enabled {
			continue
		}
		dir, err := r.RepoDir()
		if err != nil {
			fmt.Fprintln(stderr, err)
			continue
		}
		manifests, _ := filepath.Glob(filepath.Join(dir, "*", "manifest.json"))
		total += len(manifests)
		fmt.Fprintf(stdout, "%-30s %-40s %d\n", r.ID, r.Name, len(manifests))
	}
	fmt.Fprintf(stdout, "repolist: %d\n", total)
	return 0
}
