// Package kube holds the sandbox stand-ins for the Kubernetes 1.5.2 daemons
// of CentOS 7's kubernetes packages: kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet and kube-proxy. They read the same flags (from
// /etc/kubernetes/* through the packaged unit files), refuse to start where
// the real ones would not work (no etcd, no API server, no docker), serve
// the real health ports, and keep node objects in etcd. They schedule and
// run no pods.
package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"kboot/sandbox/standins/internal/flags"
)

// Version is the Kubernetes release of CentOS 7's kubernetes-1.5.2 package.
const (
	Version   = "v1.5.2"
	GitCommit = "269f928217957e7126dc87e6adfa82242bfe5b1e"
)

// logf writes a glog-style line ("I1204 20:00:02.297967  68 file.go:1] msg")
// to stderr, which the unit's log collects.
func logf(severity byte, format string, args ...interface{}) {
	now := time.Now()
	_, file, line, _ := runtime.Caller(1)
	fmt.Fprintf(os.Stderr, "%c%s %7d %s:%d] %s\n", severity, now.Format("0102 15:04:05.000000"), os.Getpid(), filepath.Base(file), line, fmt.Sprintf(format, args...))
}

// commonFlags registers the logging flags every Kubernetes 1.5 daemon
// accepts (KUBE_LOGTOSTDERR, KUBE_LOG_LEVEL in /etc/kubernetes/config).
func commonFlags(fs *flags.Set) func() bool {
	fs.Bool(false, "logtostderr")
	fs.Bool(false, "alsologtostderr")
	fs.String("0", "v")
	fs.String("", "log-dir")
	fs.String("", "vmodule")
	fs.String("30s", "log-flush-frequency")
	fs.String("", "kubeconfig")
	return fs.Bool(false, "h", "help")
}

func parseOrExit(fs *flags.Set, program, usage string, args []string, help func() bool) (int, bool) {
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		return 2, false
	}
	if help() {
		fmt.Print(usage)
		return 0, false
	}
	for _, w := range fs.Warnings {
		logf('W', "%s", w)
	}
	return 0, true
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// waitHealthy polls url until it returns 200 or the wait runs out. The
// stand-ins refuse to start after that instead of retrying forever as some
// real daemons do, so a missing dependency fails the start job.
func waitHealthy(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s returned %s", url, resp.Status)
		}
		lastErr = err
		if time.Now().After(deadline) {
			return lastErr
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// masterURL normalizes --master or --api-servers values ("host:port" means
// http://host:port, as in 1.5).
func masterURL(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return s
}

// serveHealth serves /healthz ("ok") on addr in the background.
func serveHealth(addr string, extra map[string]http.HandlerFunc) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	for path, h := range extra {
		mux.HandleFunc(path, h)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	return nil
}

// waitForSignal blocks until SIGTERM or SIGINT and runs stop.
func waitForSignal(stop func(context.Context)) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if stop != nil {
		stop(ctx)
	}
	return 0
}

func joinHostPort(host, port string) string {
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, port)
}
