//go:build !unix

package sockio

// CanTryWrite reports whether TryWriteFD works on this platform: not here,
// so callers fall back to blocking writes on a goroutine of their own.
const CanTryWrite = false

// TryWriteFD is not available on this platform; it writes nothing.
func TryWriteFD(uintptr, []byte) (int, error) { return 0, nil }
