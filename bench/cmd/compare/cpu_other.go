//go:build !linux

package main

import "time"

// CPU accounting is only implemented on Linux; elsewhere the CPU columns
// show "-".

func selfCPU() (time.Duration, bool) { return 0, false }

func procCPU(int) (time.Duration, bool) { return 0, false }

func loadAvg() string { return "?" }

func procSyscalls(int) (int64, bool) { return 0, false }
