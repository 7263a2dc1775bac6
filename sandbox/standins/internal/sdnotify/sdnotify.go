// Package sdnotify sends sd_notify(3) messages to the service manager, as
// the real dockerd and kube-apiserver do under Type=notify.
package sdnotify

import (
	"net"
	"os"
)

// Ready sends READY=1 to $NOTIFY_SOCKET. It returns nil when the process
// does not run under a notify-aware manager, as sd_notify does.
func Ready() error {
	return Send("READY=1")
}

// Send writes one message to $NOTIFY_SOCKET ("@" prefix is an abstract
// socket address).
func Send(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
