// Package ctl is the wire protocol between the sandbox systemctl stand-in
// and the sandbox systemd stand-in: one JSON request and one JSON response
// per connection on the manager's private socket. Real systemctl talks
// D-Bus over the same path; this protocol is the sandbox's own.
package ctl

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// SocketPath is the manager's control socket inside a host.
const SocketPath = "/run/systemd/private"

// Request is one systemctl invocation.
type Request struct {
	Verb       string   `json:"verb"`
	Units      []string `json:"units"`
	Properties []string `json:"properties,omitempty"`
	Value      bool     `json:"value,omitempty"`
	Now        bool     `json:"now,omitempty"`
	Quiet      bool     `json:"quiet,omitempty"`
	NoBlock    bool     `json:"noBlock,omitempty"`
	Lines      int      `json:"lines,omitempty"`
	All        bool     `json:"all,omitempty"`
}

// Response carries what systemctl prints and its exit status.
type Response struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
}

// Call sends a request and waits for the response. The timeout covers the
// longest job the manager may run (its start timeout is capped at five
// minutes) plus dependency starts.
func Call(root string, req Request, timeout time.Duration) (Response, error) {
	path := filepath.Join(root, SocketPath)
	conn, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return Response{}, fmt.Errorf("send %s request to %s: %w", req.Verb, path, err)
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("read %s response from %s: %w", req.Verb, path, err)
	}
	return resp, nil
}
