//go:build !race

package mac_test

const raceEnabled = false
