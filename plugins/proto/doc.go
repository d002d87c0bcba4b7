// Package proto holds the gRPC wire protocol between the byokcred host and a
// credential plugin (service byokcred.plugin.v1.Credential). The .pb.go files
// are generated from credential.proto by gen.sh and committed; do not edit
// them by hand.
package proto
