package agent

import (
	"context"
	"errors"
)

// AskConfig asks the agent at socket for req, and, when that agent serves
// another config (CodeConfig), the agent of req.Config's own socket
// ([ConfigSocket]) next to it. The own socket's answer is returned when an
// agent runs there, or when keepOwn is set (the caller starts an agent
// there when none runs); else the first answer, which says why the shared
// agent was not used. It returns the socket whose answer it returns.
//
// Both `byokcred credential` and the small key-command binary ask through
// it, so that the two find the same agent.
func AskConfig(ctx context.Context, socket string, req Request, keepOwn bool) (string, *Response, error) {
	resp, err := Ask(ctx, socket, req)
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Code == CodeConfig {
		own := ConfigSocket(socket, req.Config)
		oresp, oerr := Ask(ctx, own, req)
		if !errors.Is(oerr, ErrNoAgent) || keepOwn {
			return own, oresp, oerr
		}
	}
	return socket, resp, err
}

// ConfigEnv names the variable that names the config file when -c does not.
const ConfigEnv = "BYOKCRED_CONFIG"

// ConfigPath is the config file a command reads: flag (-c) when set, else
// $BYOKCRED_CONFIG, else ./byokcred.yaml. `byokcred` and the small
// key-command binary both resolve it here, so that they name the same file
// to the agent (and so find the same agent, ConfigSocket).
func ConfigPath(flag string, lookupEnv func(string) (string, bool)) string {
	if flag != "" {
		return flag
	}
	if v, _ := lookupEnv(ConfigEnv); v != "" {
		return v
	}
	return "byokcred.yaml"
}
