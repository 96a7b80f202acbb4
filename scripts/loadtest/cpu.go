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

// cpuMeter reads the CPU time used so far by the server process, by Redis, by Postgres
// and by this load generator, so that a run can report CPU per request: on a shared
// machine that figure moves much less than latency does.
type cpuMeter struct {
	pid       int    // server process (0: not measured)
	redisAddr string // host:port (empty: not measured)
	postgres  bool   // measure the Postgres server and its backends (processes named postgres)
}

type cpuSample struct {
	server, redis, postgres, self time.Duration
	load                          string
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	s.server = procCPU(m.pid)
	s.redis = redisCPU(m.redisAddr)
	if m.postgres {
		s.postgres = postgresCPU()
	}
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
	if m.postgres {
		line += " postgres " + per(b.postgres-a.postgres)
	}
	line += " load-generator " + per(b.self-a.self)
	fmt.Printf("%s; load average %s before, %s after\n", line, a.load, b.load)
}

// procCPU is the user+system time of a process (Linux /proc), 0 when unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	_, cpu := procStat(pid)
	return cpu
}

// procStat reads a process's command name and user+system time from /proc.
func procStat(pid int) (string, time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// The command name is in parentheses and may contain spaces; the fields after it
	// start after ") ".
	i, j := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if i < 0 || j < i {
		return "", 0
	}
	f := strings.Fields(string(b[j+1:]))
	if len(f) < 13 {
		return "", 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return string(b[i+1 : j]), time.Duration(ut+st) * time.Second / ticks
}

// postgresCPU is the user+system time of every process named postgres: the server and
// its backends, which take the service's writes (events, the search log), and the
// backends of any other client. A backend that exits between two samples takes its
// time with it; the service keeps its connections pooled.
func postgresCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if name, cpu := procStat(pid); name == "postgres" {
			total += cpu
		}
	}
	return total
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
