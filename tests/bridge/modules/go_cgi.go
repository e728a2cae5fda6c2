// A Wagi test module in Go (GOOS=wasip1 GOARCH=wasm).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	cmd := "env"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "echo":
		body, _ := io.ReadAll(os.Stdin)
		fmt.Print("Content-Type: application/octet-stream\n\n")
		os.Stdout.Write(body)
	case "alloc": // allocate and touch a lot of memory, then check it
		n := 64 << 20
		if len(os.Args) > 2 {
			fmt.Sscan(os.Args[2], &n)
		}
		bufs := [][]byte{}
		for i := 0; i < 64; i++ {
			b := make([]byte, n/64)
			for j := range b {
				b[j] = byte(i)
			}
			bufs = append(bufs, b)
		}
		ok := true
		for i, b := range bufs {
			for _, c := range b {
				if c != byte(i) {
					ok = false
				}
			}
		}
		fmt.Printf("Content-Type: text/plain\n\nallocated %d bytes, intact=%v\n", n, ok)
	default:
		fmt.Print("Content-Type: text/plain\nX-Lang: go\n\n")
		for i, a := range os.Args {
			fmt.Printf("argv[%d]=%s\n", i, a)
		}
		env := os.Environ()
		sort.Strings(env)
		fmt.Println(strings.Join(env, "\n"))
	}
}
