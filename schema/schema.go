// Package schema generates the JSON Schema of byokcred's config file from
// the Go types that decode it (config.Config, every registered auth type
// and every registered secret store), with each field's doc comment as its
// description. The committed
// file, byokcred.schema.json at the repository root, lets editors complete
// and check keys; a test fails when it drifts from the types, and
// `make schema` rewrites it. A custom build prints its own with
// `byokcred schema`: the descriptions are compiled in (go generate, see
// schema/fielddocs), so no source tree is needed.
package schema

//go:generate go run ./fielddocs -dir ../config -var configDocs -out configdocs_gen.go

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// ID is the schema's $id.
const ID = "https://github.com/byokcred/byokcred/byokcred.schema.json"

// enums are the closed value sets of the core config's string fields, by
// "Type.Field"; auth types declare theirs with kind.Enumer.
var enums = map[string][]string{
	"Provider.Type":    {config.TypeAnthropic, config.TypeAzure, config.TypeOpenAI},
	"Provider.WireAPI": {"completions", "responses"},
}

// patterns are the shapes of core config string fields the loader checks,
// by "Type.Field".
var patterns = map[string]string{
	"Provider.APIVersion": config.APIVersionPattern,
}

const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

var (
	secretType   = reflect.TypeFor[credential.Secret]()
	durationType = reflect.TypeFor[time.Duration]()
	nodePtrType  = reflect.TypeFor[*yaml.Node]()
)

type gen struct {
	docs map[string]string // "import/path.Type.Field" → doc comment
	defs map[string]any
	// kinds names the registered auth types by their config struct: a
	// store's identity block of that type takes that type's keys.
	kinds map[reflect.Type]string
}

// Generate returns the JSON Schema of the config file as this program
// accepts it: config.Config and every auth type and secret store
// registered (imported) in the program, described by the doc comments
// compiled into it (the config package's, and each auth type's and store's
// kind.FieldDocumenter).
func Generate() ([]byte, error) {
	g := &gen{docs: map[string]string{}, defs: map[string]any{}, kinds: map[reflect.Type]string{}}
	g.addDocs(reflect.TypeFor[config.Config]().PkgPath(), configDocs)
	for _, name := range kind.Types() {
		cfg, _ := kind.New(name)
		g.kinds[reflect.TypeOf(cfg).Elem()] = name
		if d, ok := cfg.(kind.FieldDocumenter); ok {
			g.addDocs(reflect.TypeOf(cfg).Elem().PkgPath(), d.FieldDocs())
		}
	}
	for _, name := range kind.Stores() {
		s, _ := kind.NewStore(name)
		if d, ok := s.(kind.FieldDocumenter); ok {
			g.addDocs(reflect.TypeOf(s).Elem().PkgPath(), d.FieldDocs())
		}
	}
	root := g.object(reflect.TypeFor[config.Config]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = ID
	root["title"] = "byokcred config"
	root["description"] = "Credentials for GitHub Copilot SDK BYOK providers: https://github.com/byokcred/byokcred"
	root["required"] = []string{"providers"}
	root["$defs"] = g.defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// addDocs adds one package's docs ("Type.Field" keys).
func (g *gen) addDocs(pkgPath string, docs map[string]string) {
	for k, v := range docs {
		g.docs[pkgPath+"."+k] = v
	}
}

// object describes a struct: its yaml-tagged fields, nothing else.
func (g *gen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		s := g.field(t, f)
		if doc := g.docs[t.PkgPath()+"."+t.Name()+"."+f.Name]; doc != "" {
			s["description"] = doc
		}
		props[name] = s
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

func (g *gen) field(owner reflect.Type, f reflect.StructField) map[string]any {
	if e, ok := enums[owner.Name()+"."+f.Name]; ok {
		return map[string]any{"type": "string", "enum": e}
	}
	if p, ok := patterns[owner.Name()+"."+f.Name]; ok {
		return map[string]any{"type": "string", "pattern": p}
	}
	if owner == reflect.TypeFor[config.Provider]() && f.Name == "Auth" {
		return g.auth()
	}
	if owner == reflect.TypeFor[config.Provider]() && f.Name == "Headers" {
		s := g.typ(f.Type)
		s["propertyNames"] = map[string]any{"pattern": config.HeaderNamePattern}
		return s
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := g.kinds[t]; ok {
		// Another auth type's block nested without its `type` (a store's
		// identity): that type's keys, and no `type` (the loader refuses
		// it there).
		return map[string]any{"$ref": "#/$defs/auth_" + name, "not": map[string]any{"required": []string{"type"}}}
	}
	return g.typ(f.Type)
}

func (g *gen) ref(t reflect.Type) map[string]any {
	name := t.Name()
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = nil // placeholder against recursion
		g.defs[name] = g.object(t)
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func (g *gen) typ(t reflect.Type) map[string]any {
	switch t {
	case secretType:
		return map[string]any{"type": "string", "description": "a secret; ${VAR} expands (prefer the *_env and *_file keys)"}
	case durationType:
		return map[string]any{"type": "string", "pattern": durationPattern}
	case nodePtrType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typ(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object"}
		}
		return map[string]any{"type": "object", "additionalProperties": g.typ(t.Elem())}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typ(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Interface:
		return map[string]any{}
	}
	panic("schema: no JSON Schema for " + t.String())
}

// auth describes the `auth:` block: a `type` from the registry, and for
// each type exactly that type's keys.
func (g *gen) auth() map[string]any {
	types := kind.Types()
	var branches []any
	for _, name := range types {
		cfg, _ := kind.New(name)
		t := reflect.TypeOf(cfg).Elem()
		obj := g.object(t)
		props := obj["properties"].(map[string]any)
		if e, ok := cfg.(kind.Enumer); ok {
			for key, values := range e.Enums() {
				if p := g.property(props, key); p != nil && len(values) > 0 {
					p["type"], p["enum"] = "string", values
				}
			}
		}
		if r, ok := cfg.(kind.StoreReferrer); ok {
			g.storeRefs(props, r.StoreRefs())
		}
		props["type"] = map[string]any{"const": name}
		g.defs["auth_"+name] = obj
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": name}}, "required": []string{"type"}},
			"then": map[string]any{"$ref": "#/$defs/auth_" + name},
		})
	}
	return map[string]any{
		"type":       "object",
		"required":   []string{"type"},
		"properties": map[string]any{"type": map[string]any{"enum": types, "description": "the auth type: how this provider's credential is obtained"}},
		"allOf":      branches,
	}
}

// property finds the schema of key among props; a dotted key ("a.b") names
// a key of a nested block, following its $ref.
func (g *gen) property(props map[string]any, key string) map[string]any {
	first, rest, nested := strings.Cut(key, ".")
	p, _ := props[first].(map[string]any)
	if !nested || p == nil {
		return p
	}
	if ref, ok := p["$ref"].(string); ok {
		def, _ := g.defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		p = def
	}
	inner, _ := p["properties"].(map[string]any)
	if inner == nil {
		return nil
	}
	return g.property(inner, rest)
}

// storeRefs describes the store references of an auth type (see
// kind.StoreReferrer): each block takes the common keys, `store` one of the
// registered stores, and beside them exactly the keys of the store it
// names.
func (g *gen) storeRefs(props map[string]any, refs kind.StoreRefs) {
	common := reflect.TypeOf(refs.Common).Elem()
	if _, done := g.defs[common.Name()]; !done {
		def := g.object(common)
		stores := kind.Stores()
		if p := g.property(def["properties"].(map[string]any), "store"); p != nil && len(stores) > 0 {
			p["type"], p["enum"] = "string", stores
		}
		// The keys a store's branch describes count as evaluated: an
		// unknown key is one that neither the common keys nor the
		// selected store's take.
		delete(def, "additionalProperties")
		def["unevaluatedProperties"] = false
		var branches []any
		for _, name := range stores {
			s, _ := kind.NewStore(name)
			obj := g.object(reflect.TypeOf(s).Elem())
			delete(obj, "additionalProperties")
			g.defs["store_"+name] = obj
			branches = append(branches, map[string]any{
				"if":   map[string]any{"properties": map[string]any{"store": map[string]any{"const": name}}, "required": []string{"store"}},
				"then": map[string]any{"$ref": "#/$defs/store_" + name},
			})
		}
		if len(branches) > 0 {
			def["allOf"] = branches
		}
		g.defs[common.Name()] = def
	}
	for _, block := range refs.Blocks {
		if p, ok := props[block].(map[string]any); ok {
			p["$ref"] = "#/$defs/" + common.Name()
		}
	}
}
