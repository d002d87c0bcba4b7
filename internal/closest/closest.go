// Package closest finds the known name a misspelled one was meant to be, for
// the "did you mean" of every error that names an unknown key, value, auth
// type or store: one rule, so each of them suggests the same way.
package closest

import "strings"

// Name returns the name of names within edit distance 2 of s, or that s is
// a prefix of (client_secret → client_secret_env), if any; "" when none is
// close. The first of equally close names wins.
func Name(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		dist := editDistance(s, n)
		if len(s) >= 4 && strings.HasPrefix(n, s) {
			dist = min(dist, 2)
		}
		if dist < bestD {
			best, bestD = n, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
