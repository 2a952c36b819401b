package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// selfCPU is the user+system CPU time this process has used.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc on every
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is the user+system CPU time process pid has used, from
// /proc/<pid>/stat (10 ms resolution: fine over a measurement of seconds).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * clockTick, true
}

// loadAvg is the 1-minute load average: other work on the box shows here.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := bytes.Fields(b); len(f) > 0 {
		return string(f[0])
	}
	return "?"
}

// procSyscalls is the number of read and write system calls (read, write
// and their variants: what socket I/O uses) process pid has made, from
// /proc/<pid>/io; pid 0 is this process.
func procSyscalls(pid int) (int64, bool) {
	p := "/proc/self/io"
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/io"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false
	}
	var n int64
	found := 0
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok || (string(k) != "syscr" && string(k) != "syscw") {
			continue
		}
		x, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, false
		}
		n += x
		found++
	}
	return n, found == 2
}
