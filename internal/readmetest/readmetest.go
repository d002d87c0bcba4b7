// Package readmetest checks that the documentation is exactly true: every
// Go snippet in README.md and plugins/README.md compiles, every YAML
// snippet loads, and the README's "Library use" steps, followed in a fresh
// module outside this repository, get a reply from a loopback model; its
// Layout section names every package of the module; every `byokcred …`
// command and flag it shows exists, and every problem it says is reported
// is reported by its scenario. The package has only tests.
package readmetest
