// Command hello is figure 11's floor: a minimal Go program (one line
// printed), built in the same run as the commands timed against it, so the
// figure compares byokcred's start-up with what any Go program pays.
package main

import "fmt"

func main() { fmt.Println("hello") }
