package initsys

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type account struct {
	uid, gid    uint32
	home, shell string
}

// lookupUser reads the host's own /etc/passwd, because User= names an
// account of the sandbox host (created by the package stand-in), not of the
// machine the manager binary was built on.
func lookupUser(root, name string) (account, error) {
	f, err := os.Open(filepath.Join(root, "/etc/passwd"))
	if err != nil {
		return account{}, fmt.Errorf("look up user %q: %w", name, err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), ":")
		if len(fields) < 7 || fields[0] != name {
			continue
		}
		uid, err1 := strconv.ParseUint(fields[2], 10, 32)
		gid, err2 := strconv.ParseUint(fields[3], 10, 32)
		if err1 != nil || err2 != nil {
			return account{}, fmt.Errorf("look up user %q: invalid uid or gid in /etc/passwd line %q", name, scanner.Text())
		}
		return account{uid: uint32(uid), gid: uint32(gid), home: fields[5], shell: fields[6]}, nil
	}
	return account{}, fmt.Errorf("user %q not found in /etc/passwd: create it (the package that ships the unit does) or drop User=", name)
}

func lookupGroup(root, name string) (uint32, error) {
	f, err := os.Open(filepath.Join(root, "/etc/group"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			gid, err := strconv.ParseUint(fields[2], 10, 32)
			return uint32(gid), err
		}
	}
	return 0, fmt.Errorf("group %q not found in /etc/group", name)
}
