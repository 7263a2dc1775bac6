package initsys

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// reaper owns every wait4 call in the manager process. As PID 1 of a PID
// namespace the manager inherits orphans, so it must reap with wait4(-1);
// that would steal exit statuses from os/exec's Wait, so all children are
// spawned through reaper.start and their statuses delivered on a channel.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
}

var (
	processReaper     *reaper
	processReaperOnce sync.Once
)

// newReaper returns the process-wide reaper: two reapers would steal each
// other's exit statuses, so every manager in a process shares one.
func newReaper() *reaper {
	processReaperOnce.Do(func() { processReaper = startReaper() })
	return processReaper
}

func startReaper() *reaper {
	r := &reaper{waiters: map[int]chan syscall.WaitStatus{}}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		// The ticker covers SIGCHLDs that coalesce while a batch is reaped.
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-sigs:
			case <-tick.C:
			}
			r.reapAll()
		}
	}()
	return r
}

func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		ch, ok := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
	}
}

// start spawns a process and registers its exit channel while holding the
// lock, so the reaper cannot collect the status before anyone waits for it.
func (r *reaper) start(argv0 string, argv []string, attr *os.ProcAttr) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv0, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiters[p.Pid] = ch
	pid := p.Pid
	// Release drops the pidfd the os package holds; the reaper waits instead.
	_ = p.Release()
	return pid, ch, nil
}

// watch registers interest in a process the manager did not spawn itself
// (the daemon of a Type=forking service). If the process is already gone the
// channel delivers a zero status at once.
func (r *reaper) watch(pid int) <-chan syscall.WaitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan syscall.WaitStatus, 1)
	if err := syscall.Kill(pid, 0); err != nil {
		ch <- 0
		return ch
	}
	r.waiters[pid] = ch
	return ch
}
