//go:build race

package ccm_test

// raceEnabled: the race detector multiplies memory and limits a process to
// 8128 live goroutines, so the scale tests run only in the plain pass of
// `make test` (-run 'Allocs|Scale', no -race).
const raceEnabled = true
