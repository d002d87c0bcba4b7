// Package wire carries the plugin contract (package shared) over gRPC: the
// go-plugin plugin, its server and client, and the conversions between the
// messages of package plugins/proto and credential.Token. Only the host and
// plugins/sdk use it.
package wire

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byokcred/byokcred/credential"
	pb "github.com/byokcred/byokcred/plugins/proto"

	"github.com/byokcred/byokcred/plugins/shared"
)

// GRPCPlugin is the go-plugin plugin for [shared.Credential] over gRPC. The plugin
// side sets Impl; the host side leaves it nil and gets a [*GRPCClient] from
// Dispense.
type GRPCPlugin struct {
	// net/rpc is refused: the host allows only the gRPC protocol.
	plugin.NetRPCUnsupportedPlugin

	Impl shared.Credential
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the credential service (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("shared: GRPCPlugin.Impl is nil; pass the implementation to sdk.Serve")
	}
	pb.RegisterCredentialServer(s, NewGRPCServer(p.Impl))
	return nil
}

// GRPCClient returns the host side's client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(pb.NewCredentialClient(c)), nil
}

// GRPCServer serves a [shared.Credential] over gRPC. It keeps the token source of
// every configured provider under a random handle for the life of the
// process; a restarted process starts empty and the host configures again.
type GRPCServer struct {
	pb.UnimplementedCredentialServer

	impl shared.Credential

	mu      sync.RWMutex
	sources map[string]credential.TokenSource
}

// NewGRPCServer wraps impl.
func NewGRPCServer(impl shared.Credential) *GRPCServer {
	return &GRPCServer{impl: impl, sources: make(map[string]credential.TokenSource)}
}

// Describe implements the RPC.
func (s *GRPCServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (resp *pb.DescribeResponse, err error) {
	defer recoverPanic("describe", &err)
	info, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &pb.DescribeResponse{Name: info.Name, Version: info.Version}, nil
}

// Configure implements the RPC.
func (s *GRPCServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (resp *pb.ConfigureResponse, err error) {
	defer recoverPanic("configure", &err)
	config := map[string]any{}
	if req.GetConfig() != nil {
		config = req.GetConfig().AsMap()
	}
	src, err := s.impl.Configure(ctx, req.GetProvider(), config)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if src == nil {
		return nil, status.Error(codes.Internal, "plugin returned no token source from Configure")
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, status.Errorf(codes.Internal, "handle: %v", err)
	}
	h := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.sources[h] = src
	s.mu.Unlock()
	_, perUser := src.(shared.SubjectSource)
	return &pb.ConfigureResponse{Handle: h, PerUser: perUser}, nil
}

// GetToken implements the RPC.
func (s *GRPCServer) GetToken(ctx context.Context, req *pb.GetTokenRequest) (resp *pb.GetTokenResponse, err error) {
	defer recoverPanic("get token", &err)
	s.mu.RLock()
	src, ok := s.sources[req.GetHandle()]
	s.mu.RUnlock()
	if !ok {
		return nil, status.Error(codes.NotFound, "unknown handle; call Configure first")
	}
	var tok *credential.Token
	subject := req.GetSubjectToken()
	ss, perUser := src.(shared.SubjectSource)
	switch {
	case perUser && subject == "":
		return nil, status.Error(codes.InvalidArgument, "this config exchanges a user's token and the host sent none: set per_user: true on the provider's auth block and create sessions for users")
	case !perUser && subject != "":
		return nil, status.Error(codes.InvalidArgument, "this config does not act on behalf of a user; refusing a user's token")
	case perUser:
		tok, err = ss.TokenFor(ctx, credential.NewSecret(subject))
	default:
		tok, err = src.Token(ctx)
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if tok == nil {
		return nil, status.Error(codes.Internal, "plugin returned neither a token nor an error")
	}
	return TokenToProto(tok), nil
}

// toStatus keeps the codes that the host acts on honest: a plugin error is
// UNKNOWN (never UNAVAILABLE, which means "the process died"), and an error
// caused by the host's deadline says so.
func toStatus(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// recoverPanic turns a panic in the implementation into an error for that
// call rather than a crash of the process that serves every provider.
func recoverPanic(op string, err *error) {
	if r := recover(); r != nil {
		*err = status.Errorf(codes.Internal, "plugin panicked in %s", op)
	}
}

// GRPCClient is the host side of the credential service. It implements
// [shared.Credential]: Configure returns a [credential.TokenSource] bound to the
// plugin's handle for that config.
//
// Errors from the plugin are returned as gRPC status errors, unwrapped, so a
// caller can tell a dead process (codes.Unavailable) from a plugin's own
// error (codes.Unknown, codes.InvalidArgument) and from its deadline.
type GRPCClient struct {
	client pb.CredentialClient
}

var _ shared.Credential = (*GRPCClient)(nil)

// NewGRPCClient wraps a generated client.
func NewGRPCClient(c pb.CredentialClient) *GRPCClient { return &GRPCClient{client: c} }

// Describe calls the plugin.
func (c *GRPCClient) Describe(ctx context.Context) (shared.Info, error) {
	r, err := c.client.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return shared.Info{}, err
	}
	return shared.Info{Name: r.GetName(), Version: r.GetVersion()}, nil
}

// Configure sends one provider's config and returns a source for it.
func (c *GRPCClient) Configure(ctx context.Context, providerName string, config map[string]any) (credential.TokenSource, error) {
	return c.ConfigureRemote(ctx, providerName, config)
}

// ConfigureRemote is Configure with the concrete result type.
func (c *GRPCClient) ConfigureRemote(ctx context.Context, providerName string, config map[string]any) (*RemoteSource, error) {
	st, err := ConfigToStruct(config)
	if err != nil {
		return nil, err
	}
	r, err := c.client.Configure(ctx, &pb.ConfigureRequest{Provider: providerName, Config: st})
	if err != nil {
		return nil, err
	}
	if r.GetHandle() == "" {
		return nil, errors.New("plugin returned an empty handle from Configure")
	}
	return &RemoteSource{client: c.client, handle: r.GetHandle(), PerUser: r.GetPerUser()}, nil
}

// RemoteSource is the token source of one configured provider in a plugin.
type RemoteSource struct {
	client pb.CredentialClient
	handle string
	// PerUser is the plugin's answer to Configure: the config mints tokens
	// on behalf of a user and takes a subject token (FetchFor). False from
	// plugins that predate per-user tokens.
	PerUser bool
}

// Token calls GetToken. The returned token has passed [TokenFromProto]'s
// checks; its expiry has not been judged (see [CheckExpiry]).
func (s *RemoteSource) Token(ctx context.Context) (*credential.Token, error) {
	r, err := s.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return TokenFromProto(r)
}

// Fetch calls GetToken and returns the response unjudged, for a caller that
// must know the value even when it is unusable (the host, to redact it from
// the plugin's log).
func (s *RemoteSource) Fetch(ctx context.Context) (*pb.GetTokenResponse, error) {
	return s.client.GetToken(ctx, &pb.GetTokenRequest{Handle: s.handle})
}

// FetchFor is Fetch for a per-user config: the plugin exchanges subject,
// the user's token. It refuses (without sending it) when the plugin did not
// announce the config as per-user: an older plugin would ignore the field
// and answer with its own identity.
func (s *RemoteSource) FetchFor(ctx context.Context, subject credential.Secret) (*pb.GetTokenResponse, error) {
	if !s.PerUser {
		return nil, errors.New("the plugin did not announce this config as per-user (a plugin that predates per-user tokens, or a config that does not exchange a user's token); the user's token was not sent")
	}
	return s.client.GetToken(ctx, &pb.GetTokenRequest{Handle: s.handle, SubjectToken: subject.Reveal()})
}

// PluginSet returns the go-plugin plugin map with impl served under
// [shared.PluginName]. A host passes a nil impl: the map is then only used to build
// clients.
func PluginSet(impl shared.Credential) plugin.PluginSet {
	return plugin.PluginSet{shared.PluginName: &GRPCPlugin{Impl: impl}}
}
