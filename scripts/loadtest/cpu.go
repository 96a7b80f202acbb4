package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter reads the CPU time used so far by the server process, by Redis and by this
// load generator, so that a run can report CPU per request: on a shared machine that
// figure moves much less than latency does.
type cpuMeter struct {
	pid       int    // server process (0: not measured)
	redisAddr string // host:port (empty: not measured)
}

type cpuSample struct {
	server, redis, self time.Duration
	load                string
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	s.server = procCPU(m.pid)
	s.redis = redisCPU(m.redisAddr)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return s
}

// report prints the CPU used between a and b per request.
func (m cpuMeter) report(a, b cpuSample, requests int) {
	if requests == 0 {
		return
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.0fµs", float64(d.Microseconds())/float64(requests))
	}
	line := "cpu per request:"
	if m.pid > 0 {
		line += " server " + per(b.server-a.server)
	}
	if m.redisAddr != "" {
		line += " redis " + per(b.redis-a.redis)
	}
	line += " load-generator " + per(b.self-a.self)
	fmt.Printf("%s; load average %s before, %s after\n", line, a.load, b.load)
}

// procCPU is the user+system time of a process (Linux /proc), 0 when unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces) start after ") ".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// redisCPU is used_cpu_user + used_cpu_sys from Redis's INFO, spoken in RESP directly.
func redisCPU(addr string) time.Duration {
	if addr == "" {
		return 0
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprint(c, "*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n")
	r := bufio.NewReader(c)
	var total float64
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSpace(line)
		for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x
			}
		}
		if strings.HasPrefix(line, "used_cpu_user_children") {
			break
		}
	}
	return time.Duration(total * float64(time.Second))
}
