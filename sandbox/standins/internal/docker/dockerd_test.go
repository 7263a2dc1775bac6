package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNetwork(t *testing.T) {
	root := t.TempDir()
	cfg := &daemonConfig{root: root}
	if err := cfg.checkNetwork(); err == nil || !strings.Contains(err.Error(), "--bip is not set") {
		t.Errorf("no --bip: err = %v", err)
	}
	cfg.bip = "10.244.3.1/24"
	if err := cfg.checkNetwork(); err != nil {
		t.Errorf("--bip without flannel subnet file: %v", err)
	}
	os.MkdirAll(filepath.Join(root, "/run/flannel"), 0o755)
	os.WriteFile(filepath.Join(root, "/run/flannel/subnet.env"), []byte("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"), 0o644)
	if err := cfg.checkNetwork(); err != nil {
		t.Errorf("--bip inside the lease: %v", err)
	}
	for _, bip := range []string{"10.244.4.1/24", "10.244.3.1/16", "not-a-cidr"} {
		cfg.bip = bip
		if err := cfg.checkNetwork(); err == nil {
			t.Errorf("--bip %s accepted with lease 10.244.3.1/24", bip)
		}
	}
}

func TestStorageOptionsValidated(t *testing.T) {
	root := t.TempDir()
	cases := []struct {
		driver string
		opts   []string
		ok     bool
		loop   bool
	}{
		{"overlay2", nil, true, false},
		{"overlay2", []string{"dm.thinpooldev=/dev/mapper/x"}, false, false},
		{"devicemapper", nil, true, true},
		{"devicemapper", []string{"dm.thinpooldev=/dev/mapper/missing"}, false, false},
		{"devicemapper", []string{"dm.nosuch=1"}, false, false},
		{"aufs", nil, false, false},
	}
	for _, c := range cases {
		cfg := &daemonConfig{root: root, dataRoot: "/var/lib/docker", driver: c.driver, storageOpts: c.opts}
		err := cfg.setupStorage()
		if (err == nil) != c.ok || cfg.loopLVM != c.loop {
			t.Errorf("%s %v: err = %v, loop-lvm = %v", c.driver, c.opts, err, cfg.loopLVM)
		}
	}
}

func TestDeclaredThinPool(t *testing.T) {
	root := t.TempDir()
	declared := filepath.Join(root, DeclaredDevices, "/dev/mapper/docker-thinpool")
	os.MkdirAll(filepath.Dir(declared), 0o755)
	os.WriteFile(declared, nil, 0o644)
	cfg := &daemonConfig{root: root, dataRoot: "/var/lib/docker", driver: "devicemapper", storageOpts: []string{"dm.thinpooldev=/dev/mapper/docker-thinpool"}}
	if err := cfg.setupStorage(); err != nil || cfg.loopLVM || cfg.thinPool != "/dev/mapper/docker-thinpool" {
		t.Errorf("declared thin pool: err = %v, loop-lvm = %v, thin pool = %q", err, cfg.loopLVM, cfg.thinPool)
	}
}
