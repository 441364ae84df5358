// Runtime error: an uncaught panic; the Go runtime exits with status 2.
package main

import "fmt"

func main() {
	fmt.Println("before the error")
	panic("boom")
}
