//go:build unix

package sink

import "syscall"

const canTryWrite = true

// tryWriteFD makes one non-blocking write(2) on a socket (the net package
// keeps sockets in non-blocking mode). n == 0 with a nil error means the
// socket buffer is full.
func tryWriteFD(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), p)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, err
		}
	}
}
