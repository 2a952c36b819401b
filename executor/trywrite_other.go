//go:build !unix

package executor

// No non-blocking writes here: every batch goes to a writer goroutine.
const canTryWrite = false

func tryWriteFD(uintptr, []byte) (int, error) { return 0, nil }
