package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"reflect"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// configKey identifies an auth config by content, so that providers with
// identical auth blocks share one source (and one cache, one fetch). Secrets
// take part through a hash: the key itself is safe to log.
func configKey(authType string, cfg kind.AuthConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", authType)
	hashValue(h, reflect.ValueOf(cfg))
	return authType + ":" + hex.EncodeToString(h.Sum(nil)[:12])
}

var (
	secretType = reflect.TypeFor[credential.Secret]()
	nodeType   = reflect.TypeFor[yaml.Node]()
)

func hashValue(h hash.Hash, v reflect.Value) {
	switch v.Type() {
	case secretType:
		fmt.Fprintf(h, "s%q", v.Interface().(credential.Secret).Reveal())
		return
	case nodeType:
		// A raw block nested in an auth block (decoded later by the auth
		// type): identical content shares a source wherever it sits in
		// the file.
		n := v.Interface().(yaml.Node)
		hashNode(h, &n)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			h.Write([]byte("nil"))
			return
		}
		hashValue(h, v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			fmt.Fprintf(h, "{%s:", v.Type().Field(i).Name)
			hashValue(h, v.Field(i))
			h.Write([]byte("}"))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			fmt.Fprintf(h, "[%v=", k)
			hashValue(h, v.MapIndex(k))
			h.Write([]byte("]"))
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			h.Write([]byte("("))
			hashValue(h, v.Index(i))
			h.Write([]byte(")"))
		}
	default:
		fmt.Fprintf(h, "%T=%v", v.Interface(), v.Interface())
	}
}

// hashNode hashes what a YAML node says, not where it is.
func hashNode(h hash.Hash, n *yaml.Node) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		h.Write([]byte("nil"))
		return
	}
	fmt.Fprintf(h, "<%d%q%q", n.Kind, n.ShortTag(), n.Value)
	for _, c := range n.Content {
		hashNode(h, c)
	}
	h.Write([]byte(">"))
}
