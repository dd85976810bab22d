//go:build !unix

package httpsrc

// processCPU is unknown here.
func processCPU() int64 { return -1 }
