package pkgmgr

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testRepo builds a repository with "base" and "app" (app requires base)
// and a root whose /etc/yum.repos.d points at it.
func testRepo(t *testing.T) (root, repo string) {
	t.Helper()
	repo = t.TempDir()
	root = t.TempDir()
	t.Setenv("KBOOT_STANDIN_ROOT", root)
	t.Setenv("KBOOT_STANDIN_BIN", t.TempDir())
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(repo, "base/manifest.json"), `{"name":"base","version":"1.0","release":"1.el7","arch":"x86_64","files":[
		{"path":"/etc/base.conf","config":true}]}`)
	write(filepath.Join(repo, "base/root/etc/base.conf"), "packaged=1\n")
	write(filepath.Join(repo, "app/manifest.json"), `{"name":"app","version":"2.0","release":"3.el7","arch":"x86_64","requires":["base"],
		"users":[{"name":"app","home":"/var/lib/app","shell":"/sbin/nologin","comment":"app user"}],
		"files":[{"path":"/usr/lib/systemd/system/app.service"},{"path":"/var/lib/app","type":"dir","mode":"0700","owner":"app","group":"app"},
		{"path":"/usr/bin/app","type":"link","target":"/bin/true"}]}`)
	write(filepath.Join(repo, "app/root/usr/lib/systemd/system/app.service"), "[Service]\nExecStart=/usr/bin/app\n")
	write(filepath.Join(root, "etc/yum.repos.d/test.repo"), "[test]\nname=test repo\nbaseurl=file://"+repo+"\nenabled=1\ngpgcheck=0\n\n[off]\nname=disabled\nbaseurl=file:///nonexistent\nenabled=0\n")
	write(filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n")
	write(filepath.Join(root, "etc/group"), "root:x:0:\n")
	return root, repo
}

func yum(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := YumMain(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func rpm(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := RpmMain(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func readEvents(t *testing.T, root string) string {
	data, _ := os.ReadFile(filepath.Join(root, "/var/log/kboot-sandbox/events.log"))
	return string(data)
}

func TestYumInstallWithDependency(t *testing.T) {
	root, _ := testRepo(t)
	code, out, errOut := yum(t, "install", "-y", "app")
	if code != 0 {
		t.Fatalf("yum install app = %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Installing:\n app ") || !strings.Contains(out, "Installing for dependencies:\n base ") || !strings.Contains(out, "Complete!") {
		t.Errorf("transaction output missing parts:\n%s", out)
	}
	ev := readEvents(t, root)
	if strings.Index(ev, "install base") < 0 || strings.Index(ev, "install base") > strings.Index(ev, "install app") {
		t.Errorf("events = %q, want base installed before app", ev)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "/usr/lib/systemd/system/app.service")); !strings.Contains(string(data), "ExecStart=/usr/bin/app") {
		t.Errorf("unit file content = %q", data)
	}
	if target, _ := os.Readlink(filepath.Join(root, "/usr/bin/app")); target != "/bin/true" {
		t.Errorf("/usr/bin/app links to %q", target)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "/etc/passwd"))
	if !strings.Contains(string(passwd), "app:x:999:999:app user:/var/lib/app:/sbin/nologin") {
		t.Errorf("passwd = %q, want the app system user", passwd)
	}
	info, err := os.Stat(filepath.Join(root, "/var/lib/app"))
	if err != nil || info.Mode().Perm() != 0o700 || info.Sys().(*syscall.Stat_t).Uid != 999 {
		t.Errorf("/var/lib/app = %v %v, want mode 0700 owned by uid 999", info, err)
	}
}

func TestYumAlreadyInstalledAndMissing(t *testing.T) {
	root, _ := testRepo(t)
	if code, out, errOut := yum(t, "install", "-y", "base"); code != 0 {
		t.Fatalf("first install = %d: %s %s", code, out, errOut)
	}
	code, out, _ := yum(t, "install", "-y", "base")
	if code != 0 || !strings.Contains(out, "Package base-1.0-1.el7.x86_64 already installed and latest version") || !strings.Contains(out, "Nothing to do") {
		t.Errorf("second install = %d\n%s", code, out)
	}
	code, out, errOut := yum(t, "install", "-y", "nosuch")
	if code != 1 || !strings.Contains(out, "No package nosuch available.") || !strings.Contains(errOut, "Error: Nothing to do") {
		t.Errorf("missing package = %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(readEvents(t, root), "install base"); n != 1 {
		t.Errorf("install base logged %d times, want 1", n)
	}
}

func TestYumWithoutAssumeYesAborts(t *testing.T) {
	testRepo(t)
	code, out, _ := yum(t, "install", "base")
	if code != 1 || !strings.Contains(out, "Is this ok [y/d/N]:") || !strings.Contains(out, "Exiting on user command") {
		t.Errorf("yum install without -y = %d\n%s", code, out)
	}
}

func TestYumWithoutEnabledRepo(t *testing.T) {
	root, _ := testRepo(t)
	os.Remove(filepath.Join(root, "etc/yum.repos.d/test.repo"))
	code, _, errOut := yum(t, "install", "-y", "base")
	if code != 1 || !strings.Contains(errOut, "There are no enabled repos.") {
		t.Errorf("yum without repos = %d: %s", code, errOut)
	}
}

func TestConfigFileKeptAsRpmnew(t *testing.T) {
	root, _ := testRepo(t)
	conf := filepath.Join(root, "/etc/base.conf")
	if err := os.WriteFile(conf, []byte("edited=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := yum(t, "install", "-y", "base")
	if code != 0 || !strings.Contains(out, "warning: /etc/base.conf created as /etc/base.conf.rpmnew") {
		t.Fatalf("install over edited config = %d\n%s", code, out)
	}
	if data, _ := os.ReadFile(conf); string(data) != "edited=1\n" {
		t.Errorf("edited config replaced: %q", data)
	}
	if data, _ := os.ReadFile(conf + ".rpmnew"); string(data) != "packaged=1\n" {
		t.Errorf(".rpmnew = %q", data)
	}
}

func TestRpmQueryExitCode(t *testing.T) {
	testRepo(t)
	yum(t, "install", "-y", "base")
	code, out := rpm(t, "-q", "base", "app", "nosuch")
	if code != 2 {
		t.Errorf("rpm -q exit = %d, want 2 (two missing)", code)
	}
	want := "base-1.0-1.el7.x86_64\npackage app is not installed\npackage nosuch is not installed\n"
	if out != want {
		t.Errorf("rpm -q output = %q, want %q", out, want)
	}
	if code, out := rpm(t, "-q", "--qf", "%{VERSION}-%{RELEASE}", "base"); code != 0 || out != "1.0-1.el7" {
		t.Errorf("rpm --qf = %d %q", code, out)
	}
	if code, out := rpm(t, "-qf", "/etc/base.conf"); code != 0 || out != "base-1.0-1.el7.x86_64\n" {
		t.Errorf("rpm -qf = %d %q", code, out)
	}
}

func TestYumWaitsForLockThenTimesOut(t *testing.T) {
	root, _ := testRepo(t)
	lockWaitLimit, pollInterval = 300*time.Millisecond, 50*time.Millisecond
	defer func() { lockWaitLimit, pollInterval = 10*time.Minute, 2*time.Second }()
	lock := filepath.Join(root, LockPath)
	os.MkdirAll(filepath.Dir(lock), 0o755)
	// The test process itself is a live holder.
	os.WriteFile(lock, []byte("1\n"), 0o644)
	code, out, errOut := yum(t, "install", "-y", "base")
	if code != 1 || !strings.Contains(out, "Another app is currently holding the yum lock; waiting for it to exit...") || !strings.Contains(errOut, "timed out") {
		t.Errorf("locked yum = %d\n%s\n%s", code, out, errOut)
	}
	// A lock left by a dead process is stale and taken over.
	os.WriteFile(lock, []byte("999999\n"), 0o644)
	if code, out, errOut := yum(t, "install", "-y", "base"); code != 0 {
		t.Errorf("stale lock: yum = %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("lock not released: %v", err)
	}
}

func TestYumHangsWhileFlagExists(t *testing.T) {
	root, _ := testRepo(t)
	hangLimit = 200 * time.Millisecond
	defer func() { hangLimit = 30 * time.Minute }()
	flag := filepath.Join(root, HangPath)
	os.MkdirAll(filepath.Dir(flag), 0o755)
	os.WriteFile(flag, nil, 0o644)
	start := time.Now()
	code, _, errOut := yum(t, "install", "-y", "base")
	if code != 1 || !strings.Contains(errOut, "hung on purpose") || time.Since(start) < hangLimit {
		t.Errorf("hang = %d after %s: %s", code, time.Since(start), errOut)
	}
	if strings.Contains(readEvents(t, root), "install base") {
		t.Error("hung yum installed the package")
	}
}

// TestSandboxRepositoryManifests checks every manifest shipped in
// sandbox/repo: it parses, its files exist, and its requirements resolve.
func TestSandboxRepositoryManifests(t *testing.T) {
	paths, _ := filepath.Glob("../../../repo/*/manifest.json")
	if len(paths) < 7 {
		t.Fatalf("found %d manifests under sandbox/repo, want at least 7", len(paths))
	}
	names := map[string]*Manifest{}
	for _, p := range paths {
		m, err := ReadManifest(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		names[m.Name] = m
	}
	for _, m := range names {
		for _, dep := range m.Requires {
			if names[dep] == nil {
				t.Errorf("%s requires %s, which the repository does not have", m.Name, dep)
			}
		}
	}
	for _, want := range []string{"etcd", "flannel", "docker", "kubernetes", "kubernetes-master", "kubernetes-node", "kubernetes-client"} {
		if names[want] == nil {
			t.Errorf("package %s missing from sandbox/repo", want)
		}
	}
}
