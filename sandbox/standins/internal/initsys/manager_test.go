package initsys

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kboot/sandbox/standins/internal/ctl"
	"kboot/sandbox/standins/internal/sdnotify"
)

// TestMain lets the test binary act as a service process: with
// KBOOT_TEST_HELPER set it plays the named role instead of running tests.
func TestMain(m *testing.M) {
	switch os.Getenv("KBOOT_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "notify-late":
		time.Sleep(300 * time.Millisecond)
		_ = sdnotify.Ready()
		time.Sleep(30 * time.Second)
		os.Exit(0)
	case "sleep":
		time.Sleep(30 * time.Second)
		os.Exit(0)
	case "fail":
		os.Exit(1)
	}
	os.Exit(2)
}

func helper(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func newTestManager(t *testing.T, units map[string]string) (*Manager, string) {
	t.Helper()
	root := t.TempDir()
	for name, content := range units {
		path := filepath.Join(root, "/usr/lib/systemd/system", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := NewManager(root)
	t.Cleanup(m.StopAll)
	return m, root
}

func countEvents(root, line string) int {
	data, _ := os.ReadFile(filepath.Join(root, "/var/log/kboot-sandbox/events.log"))
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasSuffix(l, " "+line) {
			n++
		}
	}
	return n
}

func state(m *Manager, name string) (string, string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.get(name)
	return st.active, st.sub, st.result
}

func waitState(t *testing.T, m *Manager, name, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if active, _, _ := state(m, name); active == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	active, sub, result := state(m, name)
	t.Fatalf("%s is %s (%s, result %s), want %s", name, active, sub, result, want)
}

func TestNotifyStartWaitsForReady(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"late.service": "[Service]\nType=notify\nEnvironment=KBOOT_TEST_HELPER=notify-late\nExecStart=" + helper(t) + "\n",
	})
	start := time.Now()
	if err := m.Start("late"); err != nil {
		t.Fatalf("start late: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("start returned after %s, before the service sent READY=1", elapsed)
	}
	if active, sub, _ := state(m, "late.service"); active != "active" || sub != "running" {
		t.Errorf("state = %s (%s), want active (running)", active, sub)
	}
	if n := countEvents(root, "start late.service"); n != 1 {
		t.Errorf("start events = %d, want 1", n)
	}
	if err := m.Stop("late"); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(root, "stop late.service"); n != 1 {
		t.Errorf("stop events = %d, want 1", n)
	}
	waitState(t, m, "late.service", "inactive")
}

func TestFailedStartRestartsUntilLimit(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"fail.service": "[Service]\nType=notify\nEnvironment=KBOOT_TEST_HELPER=fail\nExecStart=" + helper(t) + "\nRestart=on-failure\nRestartSec=10ms\n",
	})
	err := m.Start("fail")
	if err == nil || !strings.Contains(err.Error(), "Job for fail.service failed because the control process exited with error code.") {
		t.Fatalf("start fail = %v, want systemd's job failure message", err)
	}
	waitState(t, m, "fail.service", "failed")
	if _, _, result := state(m, "fail.service"); result != "start-limit" {
		t.Errorf("result = %s, want start-limit", result)
	}
	if n := countEvents(root, "start fail.service"); n != 5 {
		t.Errorf("start events = %d, want 5 (StartLimitBurst)", n)
	}
	resp := m.Execute(ctl.Request{Verb: "show", Units: []string{"fail"}, Properties: []string{"NRestarts,Result"}, Value: true}, 0)
	if resp.Stdout != "4\nstart-limit\n" {
		t.Errorf("show NRestarts,Result --value = %q", resp.Stdout)
	}
}

func TestRequiresAfterOrderAndStopPropagation(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"a.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.2; echo a >> order'\nWorkingDirectory=/\n",
		"b.service": "[Unit]\nRequires=a.service\nAfter=a.service\n[Service]\nExecStart=/bin/sh -c 'echo b >> order; exec sleep 30'\nWorkingDirectory=/\n",
	})
	if err := m.Start("b"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	var order []byte
	for time.Now().Before(deadline) {
		if order, _ = os.ReadFile(filepath.Join(root, "order")); len(order) >= 4 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(order) != "a\nb\n" {
		t.Errorf("order = %q, want a before b", order)
	}
	if err := m.Stop("a"); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "b.service", "inactive")
	if n := countEvents(root, "stop b.service"); n != 1 {
		t.Errorf("stop events for b = %d, want 1 (stop propagates over Requires=)", n)
	}
}

func TestExecStartPostSeesMainPID(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"post.service": "[Service]\nEnvironment=KBOOT_TEST_HELPER=sleep\nExecStart=" + helper(t) + "\nExecStartPost=/bin/sh -c 'echo $MAINPID > mainpid'\nWorkingDirectory=/\n",
	})
	if err := m.Start("post"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "mainpid"))
	resp := m.Execute(ctl.Request{Verb: "show", Units: []string{"post"}, Properties: []string{"MainPID"}, Value: true}, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(resp.Stdout))
	if pid == 0 || strings.TrimSpace(string(data)) != strconv.Itoa(pid) {
		t.Errorf("ExecStartPost saw MAINPID %q, MainPID is %q", data, resp.Stdout)
	}
}

func TestEnableIsEnabledAndAccess(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"flanneld.service": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nRequiredBy=docker.service\n",
		"static.service":   "[Service]\nExecStart=/bin/true\n",
	})
	if resp := m.Execute(ctl.Request{Verb: "is-enabled", Units: []string{"flanneld"}}, 0); resp.Stdout != "disabled\n" || resp.Exit != 1 {
		t.Errorf("is-enabled before enable = %+v", resp)
	}
	resp := m.Execute(ctl.Request{Verb: "enable", Units: []string{"flanneld"}}, 0)
	if resp.Exit != 0 || !strings.Contains(resp.Stderr, "Created symlink from /etc/systemd/system/docker.service.requires/flanneld.service to /usr/lib/systemd/system/flanneld.service.") {
		t.Errorf("enable = %+v", resp)
	}
	for _, link := range []string{"multi-user.target.wants", "docker.service.requires"} {
		target, err := os.Readlink(filepath.Join(root, "/etc/systemd/system", link, "flanneld.service"))
		if err != nil || target != "/usr/lib/systemd/system/flanneld.service" {
			t.Errorf("%s link = %q, %v", link, target, err)
		}
	}
	if resp := m.Execute(ctl.Request{Verb: "is-enabled", Units: []string{"flanneld", "static"}}, 0); resp.Stdout != "enabled\nstatic\n" || resp.Exit != 0 {
		t.Errorf("is-enabled after enable = %+v", resp)
	}
	if resp := m.Execute(ctl.Request{Verb: "start", Units: []string{"flanneld"}}, 1000); resp.Exit != 4 || !strings.Contains(resp.Stderr, "Access denied") {
		t.Errorf("start as uid 1000 = %+v, want access denied", resp)
	}
	if resp := m.Execute(ctl.Request{Verb: "is-active", Units: []string{"flanneld"}}, 1000); resp.Stdout != "inactive\n" || resp.Exit != 3 {
		t.Errorf("is-active as uid 1000 = %+v", resp)
	}
}

func TestCatPrintsFragmentThenDropIns(t *testing.T) {
	m, root := newTestManager(t, map[string]string{
		"docker.service":                "[Service]\nExecStart=/bin/true\n",
		"docker.service.d/flannel.conf": "[Service]\nEnvironmentFile=-/run/flannel/docker\n",
	})
	resp := m.Execute(ctl.Request{Verb: "cat", Units: []string{"docker"}}, 0)
	want := "# /usr/lib/systemd/system/docker.service\n[Service]\nExecStart=/bin/true\n\n# /usr/lib/systemd/system/docker.service.d/flannel.conf\n[Service]\nEnvironmentFile=-/run/flannel/docker\n"
	if resp.Stdout != want {
		t.Errorf("cat = %q\nwant  %q", resp.Stdout, want)
	}
	if resp := m.Execute(ctl.Request{Verb: "cat", Units: []string{"nosuch"}}, 0); resp.Exit != 1 || resp.Stderr != "No files found for nosuch.service.\n" {
		t.Errorf("cat nosuch = %+v", resp)
	}
	_ = root
}

func TestMissingUnitMessages(t *testing.T) {
	m, _ := newTestManager(t, nil)
	resp := m.Execute(ctl.Request{Verb: "start", Units: []string{"nosuch"}}, 0)
	if resp.Exit != 5 || resp.Stderr != "Failed to start nosuch.service: Unit nosuch.service not found.\n" {
		t.Errorf("start nosuch = %+v", resp)
	}
	resp = m.Execute(ctl.Request{Verb: "status", Units: []string{"nosuch"}}, 0)
	if resp.Exit != 4 || resp.Stderr != "Unit nosuch.service could not be found.\n" {
		t.Errorf("status nosuch = %+v", resp)
	}
}
