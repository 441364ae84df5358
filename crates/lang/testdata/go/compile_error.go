// Compile error: a string assigned to an int, and an unused import.
package main

import "os"

func main() {
	var x int = "not a number"
	_ = x
}
