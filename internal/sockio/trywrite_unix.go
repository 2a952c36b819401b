//go:build unix

package sockio

import "syscall"

// CanTryWrite reports whether TryWriteFD works on this platform.
const CanTryWrite = true

// TryWriteFD makes one non-blocking write(2) on a socket (the net package
// keeps sockets in non-blocking mode); call it from syscall.RawConn.Write.
// n == 0 with a nil error means the socket buffer is full.
func TryWriteFD(fd uintptr, p []byte) (int, error) {
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
