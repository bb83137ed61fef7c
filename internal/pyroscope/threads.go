package pyroscope

import (
	"bytes"
	"os"
	"strconv"
)

// listThreads appends the kernel ids of the process's threads to buf.
func listThreads(buf []int32) ([]int32, error) {
	f, err := os.Open("/proc/self/task")
	if err != nil {
		return buf, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return buf, err
	}
	for _, n := range names {
		if tid, err := strconv.ParseInt(n, 10, 32); err == nil {
			buf = append(buf, int32(tid))
		}
	}
	return buf, nil
}

// threadName is the thread's name as the kernel knows it (15 bytes at
// most): GStreamer names task threads after their pad, "queue0:src".
func threadName(tid int32) string {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(int(tid)) + "/comm")
	if err != nil {
		return "unknown"
	}
	return string(bytes.TrimRight(b, "\n"))
}
