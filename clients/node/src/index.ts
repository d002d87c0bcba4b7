// @byokcred/client: credentials for the GitHub Copilot SDK from a running
// `byokcred agent`, over its unix socket (docs/agent-protocol.md in the
// byokcred repository). No runtime dependencies: Node's net, fs and crypto.

import { createHash } from "node:crypto";
import { lstat } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { inspect } from "node:util";

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** The variable that overrides the default socket path, as for the CLI. */
export const SOCKET_ENV = "BYOKCRED_AGENT_SOCK";

/** Options shared by every function of this package. */
export interface ClientOptions {
  /**
   * The agent's socket. Default: $BYOKCRED_AGENT_SOCK, else
   * $XDG_RUNTIME_DIR/byokcred/agent.sock, else byokcred-UID/agent.sock in the
   * temporary directory — where `byokcred agent` listens by default.
   */
  socket?: string;
  /**
   * The config file the agent must serve (default $BYOKCRED_CONFIG; unset:
   * whichever the agent serves). An agent serving another file is not used;
   * the client then asks the agent of this config, on the socket
   * agent-HASH.sock next to the default one, as `byokcred credential` does.
   */
  config?: string;
  /** Bound on one call, from asking to the answer. Default 35 s: above the agent's default token_timeout (30 s) for a cold fetch. */
  timeoutMs?: number;
  /** Bound on each request's first byte: a new connection's, and a kept connection's acknowledgement (a live agent sends both at once). Default 2 s. */
  connectTimeoutMs?: number;
  /** The environment for finding the socket and for the provider's ${NAME} parts (default process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * A credential from the agent. Its value is out of sight of logs:
 * String(token), JSON.stringify(token) and console.log(token) show
 * "[redacted]"; reveal() returns it.
 */
export class Token {
  readonly #value: string;
  /** The provider's name, as the agent resolved it (the default provider's real name). */
  readonly provider: string;
  /** "bearer" or "api_key". */
  readonly kind: string;
  /** Expiry, or undefined for a credential that does not expire. */
  readonly expiry: Date | undefined;

  constructor(value: string, provider: string, kind: string, expiry: Date | undefined) {
    this.#value = value;
    this.provider = provider;
    this.kind = kind;
    this.expiry = expiry;
  }

  /** The credential itself, for the request header. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return "[redacted]";
  }

  toJSON(): object {
    return { provider: this.provider, kind: this.kind, expiry: this.expiry, value: "[redacted]" };
  }

  [inspect.custom](): string {
    return `Token { provider: ${JSON.stringify(this.provider)}, kind: ${JSON.stringify(this.kind)}, value: [redacted] }`;
  }
}

/**
 * A provider as the agent describes it: no secret in it. baseUrl and the
 * header values are templates: a part that came from an environment variable
 * (beyond the URL's host) is written ${NAME}, a literal `$` is `$$`;
 * providerConfig expands them from this process's environment.
 */
export interface ProviderDescription {
  name: string;
  kind: string;
  type: "openai" | "azure" | "anthropic";
  baseUrl: string;
  wireApi?: "completions" | "responses";
  model?: string;
  wireModel?: string;
  apiVersion?: string;
  /** The config's extra headers (templates). */
  headers: Record<string, string>;
  /** Headers the agent does not send: literal values under credential-like names. */
  withheldHeaders: string[];
  /** Authorization, Api-Key or X-Api-Key. */
  credentialHeader: string;
  /** per_request or per_session. */
  refresh: string;
}

/** Why a call failed: the agent's code, or one of this client's. */
export type ErrorCode =
  | "no_agent" // nothing listens on the socket
  | "untrusted" // the socket or its directory is not ours and private
  | "timeout" // no answer in time
  | "connection" // the connection broke or the answer was unreadable
  | "version" | "bad_input" | "config" | "provider" | "token" // the agent's codes
  | "headers"; // withheld headers not supplied, or variables not set (providerConfig)

/**
 * An error of this client. The message names the provider and the socket and
 * says what to do; it never holds a credential.
 */
export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly provider: string;
  readonly socket: string;
  constructor(code: ErrorCode, provider: string, socket: string, message: string) {
    super(message);
    this.name = "AgentError";
    this.code = code;
    this.provider = provider;
    this.socket = socket;
  }
}

/** The default socket path, by the CLI's rules (agent.DefaultSocket). */
export function defaultSocket(env: Record<string, string | undefined> = process.env): string {
  const sock = env[SOCKET_ENV];
  if (sock) return sock;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, "byokcred", "agent.sock");
  // Go's os.TempDir: $TMPDIR, else /tmp.
  return join(env.TMPDIR || "/tmp", `byokcred-${process.geteuid!()}`, "agent.sock");
}

/**
 * The socket of an agent of config's own, next to socket: agent.sock
 * becomes agent-HASH.sock, HASH from the absolute config path
 * (agent.ConfigSocket).
 */
export function configSocket(socket: string, config: string): string {
  const hash = createHash("sha256").update(config).digest("hex").slice(0, 12);
  return join(dirname(socket), `${basename(socket).replace(/\.sock$/, "")}-${hash}.sock`);
}

interface Answer {
  v?: number;
  provider?: string;
  kind?: string;
  token?: string;
  expiry?: number;
  code?: string;
  error?: string;
  keep?: boolean;
  provider_config?: {
    type: ProviderDescription["type"];
    base_url: string;
    wire_api?: ProviderDescription["wireApi"];
    model?: string;
    wire_model?: string;
    api_version?: string;
    headers?: Record<string, string>;
    withheld_headers?: string[];
    credential_header: string;
    refresh: string;
  };
}

// Caps, as the Go client's: a credential fits in a header.
const MAX_TOKEN = 64 << 10;
const MAX_ANSWER = 2 * MAX_TOKEN + (4 << 10);
const MAX_ERROR = 1 << 10;
// Idle connections kept for reuse; more are opened while calls overlap.
const MAX_IDLE = 2;

/** One connection to the agent; one request at a time. */
class Conn {
  readonly sock: Socket;
  buf = "";
  alive = false; // a byte came: an agent answers on it
  heard = false; // a byte came for the request being asked (reset before a kept connection's next one)
  kept = false; // the agent said keep: the connection may be reused
  broken = false;
  waiter: ((line: string | Error) => void) | undefined;

  constructor(sock: Socket) {
    this.sock = sock;
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      this.alive = true;
      this.heard = true;
      this.buf += chunk;
      if (this.buf.length > MAX_ANSWER) {
        this.fail(new Error(`the answer is larger than ${MAX_ANSWER} bytes; refused`));
        return;
      }
      const nl = this.buf.indexOf("\n");
      if (nl >= 0 && this.waiter) {
        const line = this.buf.slice(0, nl).trimStart();
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiter;
        this.waiter = undefined;
        w(line);
      }
    });
    sock.on("error", (err) => this.fail(err));
    sock.on("close", () => this.fail(new Error("the agent closed the connection")));
  }

  fail(err: Error): void {
    this.broken = true;
    this.sock.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.(err);
  }

  /** Sends one request line and resolves with the answer line or the error. */
  ask(line: string): Promise<string | Error> {
    return new Promise((res) => {
      if (this.broken) return res(new Error("the connection is closed"));
      this.waiter = res;
      this.sock.write(line + "\n");
    });
  }
}

/**
 * A client of one agent: a few connections kept open (reconnected as
 * needed), shared by every provider's callback. Most programs never make one
 * themselves: bearerTokenProvider and providerConfig share one per
 * socket/config.
 */
export class AgentClient {
  readonly #opts: Required<Omit<ClientOptions, "config" | "socket">> & { config?: string };
  #socket: string;
  #idle: Conn[] = [];

  constructor(opts: ClientOptions = {}) {
    const env = opts.env ?? process.env;
    const config = opts.config ?? env.BYOKCRED_CONFIG;
    this.#opts = {
      timeoutMs: opts.timeoutMs ?? 35_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
      env,
      config: config ? resolve(config) : undefined,
    };
    this.#socket = opts.socket ?? defaultSocket(env);
  }

  /** The socket asked (the config's own socket once the default one turned out to serve another config). */
  get socket(): string {
    return this.#socket;
  }

  /** The provider's current credential ("" names the default provider). */
  async token(provider = ""): Promise<Token> {
    const a = await this.#call("token", provider);
    const label = a.provider || provider;
    const value = a.token ?? "";
    const check = checkCredential(value, a.kind);
    if (check) throw new AgentError("token", label, this.#socket, `byokcred: provider ${quote(label)}: the agent at ${this.#socket} answered a credential that ${check}; refused`);
    return new Token(value, label, a.kind ?? "bearer", a.expiry ? new Date(a.expiry) : undefined);
  }

  /** The provider's description: what a provider config needs, and no secret. */
  async describe(provider = ""): Promise<ProviderDescription> {
    const a = await this.#call("provider", provider);
    const p = a.provider_config;
    if (!p) throw new AgentError("connection", provider, this.#socket, `byokcred: provider ${quote(provider)}: the agent at ${this.#socket} sent no description; is it older than this client? Restart it: ${this.#startCommand()}`);
    return {
      name: a.provider || provider, kind: a.kind ?? "bearer", type: p.type, baseUrl: p.base_url, wireApi: p.wire_api, model: p.model,
      wireModel: p.wire_model, apiVersion: p.api_version, headers: p.headers ?? {}, withheldHeaders: p.withheld_headers ?? [],
      credentialHeader: p.credential_header, refresh: p.refresh,
    };
  }

  /** Closes the kept connections; later calls open new ones. */
  close(): void {
    for (const c of this.#idle.splice(0)) c.sock.destroy();
  }

  async #call(op: string, provider: string): Promise<Answer> {
    const req: Record<string, unknown> = { v: PROTOCOL_VERSION, op, keep: true };
    if (provider) req.provider = provider;
    if (this.#opts.config) req.config = this.#opts.config;
    const line = JSON.stringify(req);
    let a = await this.#exchange(line, provider);
    if (a.code === "config" && this.#opts.config) {
      // The default socket's agent serves another config: ask this
      // config's own agent, as `byokcred credential` does, from now on.
      const own = configSocket(this.#socket, this.#opts.config);
      const first = this.#socket;
      this.close();
      this.#socket = own;
      try {
        a = await this.#exchange(line, provider);
      } catch (err) {
        if (err instanceof AgentError && err.code === "no_agent") {
          this.#socket = first;
          throw new AgentError("config", provider, first, `byokcred: provider ${quote(provider)}: the agent at ${first} serves another config (${sanitize(a.error ?? "")}), and none runs for ${this.#opts.config} on ${own}; start one: ${this.#startCommand()}`);
        }
        throw err;
      }
    }
    if (a.code || a.error) {
      const code = (["version", "bad_input", "config", "provider", "token"].includes(a.code ?? "") ? a.code : "token") as ErrorCode;
      let todo = "";
      if (code === "version" || code === "bad_input") todo = `; the agent may be older than this client: restart it with this byokcred (${this.#startCommand()})`;
      throw new AgentError(code, a.provider || provider, this.#socket, `byokcred: provider ${quote(provider)}: the agent at ${this.#socket} answered: ${sanitize(a.error ?? a.code ?? "")}${todo}`);
    }
    return a;
  }

  /**
   * One exchange on a kept connection, else a new one; a kept connection the
   * agent closed meanwhile is retried once on a new one. Every request's
   * first byte (a new connection's space, a kept one's acknowledging space)
   * must come within connectTimeoutMs, the answer within timeoutMs.
   */
  async #exchange(line: string, provider: string): Promise<Answer> {
    const deadline = Date.now() + this.#opts.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      let reused: Conn | undefined;
      while (attempt === 0 && !reused && this.#idle.length > 0) {
        const c = this.#idle.pop()!;
        if (!c.broken) reused = c;
      }
      const conn = reused ?? (await this.#dial(provider, deadline));
      // A kept connection's last byte answered the last request; a new
      // one's space may have come already.
      if (reused) conn.heard = false;
      const socket = this.#socket;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Error>((res) => {
        const first = conn.heard ? deadline : Math.min(deadline, Date.now() + this.#opts.connectTimeoutMs);
        timer = setTimeout(() => {
          if (!conn.heard) return res(new Error("no first byte"));
          res(new Error("no answer in time"));
        }, Math.max(0, first - Date.now()));
        // A connection that showed it is alive gets the whole deadline.
        if (!conn.heard) {
          conn.sock.once("data", () => {
            clearTimeout(timer);
            timer = setTimeout(() => res(new Error("no answer in time")), Math.max(0, deadline - Date.now()));
          });
        }
      });
      const got = await Promise.race([conn.ask(line), timeout]);
      clearTimeout(timer);
      if (got instanceof Error) {
        conn.fail(got);
        // A kept connection the agent closed meanwhile (idle, restarted):
        // once more on a new one; both ops are reads, safe to repeat. Not
        // one whose agent is silent (stopped, wedged): its socket still
        // accepts, so a new connection would only wait as long again.
        if (reused && got.message !== "no answer in time" && got.message !== "no first byte") continue;
        if (got.message === "no first byte") {
          throw new AgentError("timeout", provider, socket, `byokcred: provider ${quote(provider)}: the agent at ${socket} accepted the connection but does not respond (stopped, or stuck?); restart it: ${this.#startCommand()}`);
        }
        if (got.message === "no answer in time") {
          throw new AgentError("timeout", provider, socket, `byokcred: provider ${quote(provider)}: no answer from the agent at ${socket} within ${this.#opts.timeoutMs} ms; see the agent's log, or raise timeoutMs`);
        }
        if (!conn.alive) {
          throw new AgentError("no_agent", provider, socket, `byokcred: provider ${quote(provider)}: the agent at ${socket} refused or dropped the connection before answering (${got.message}); is it running as this user? Start it: ${this.#startCommand()}`);
        }
        throw new AgentError("connection", provider, socket, `byokcred: provider ${quote(provider)}: no answer from the agent at ${socket} (${got.message}); if it stopped, start it again: ${this.#startCommand()}`);
      }
      let a: Answer;
      try {
        a = JSON.parse(got) as Answer;
      } catch {
        conn.fail(new Error("unreadable answer"));
        throw new AgentError("connection", provider, socket, `byokcred: provider ${quote(provider)}: the agent at ${socket} sent an unreadable answer`);
      }
      if (a.keep && !conn.broken && this.#idle.length < MAX_IDLE) {
        conn.kept = true;
        this.#idle.push(conn);
      } else {
        conn.sock.destroy();
      }
      return a;
    }
  }

  async #dial(provider: string, deadline: number): Promise<Conn> {
    const socket = this.#socket;
    await this.#checkSocket(provider, socket);
    return new Promise<Conn>((res, rej) => {
      const sock = connect({ path: socket });
      const timer = setTimeout(() => {
        sock.destroy();
        rej(new AgentError("timeout", provider, socket, `byokcred: provider ${quote(provider)}: connecting to the agent at ${socket} timed out; restart it: ${this.#startCommand()}`));
      }, Math.max(0, Math.min(deadline - Date.now(), this.#opts.connectTimeoutMs)));
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        sock.unref(); // a kept connection must not keep the program alive
        res(new Conn(sock));
      });
      sock.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === "ECONNREFUSED" || err.code === "ENOENT") {
          rej(new AgentError("no_agent", provider, socket, `byokcred: provider ${quote(provider)}: no byokcred agent is running on ${socket}; start it: ${this.#startCommand()}`));
        } else {
          rej(new AgentError("connection", provider, socket, `byokcred: provider ${quote(provider)}: cannot connect to the agent at ${socket}: ${err.code ?? err.message}`));
        }
      });
    });
  }

  /**
   * The checks the CLI makes before it dials: the socket's directory is a
   * directory (not a link) of ours with no group or other access, and the
   * socket is a socket of ours. Node cannot read the listening process's uid
   * (no SO_PEERCRED); the private directory is what keeps another user from
   * listening there.
   */
  async #checkSocket(provider: string, socket: string): Promise<void> {
    const uid = process.geteuid!();
    const untrusted = (what: string, todo: string) =>
      new AgentError("untrusted", provider, socket, `byokcred: provider ${quote(provider)}: not using the agent socket ${socket}: ${what}; another user could listen in its place: ${todo}`);
    let st;
    try {
      st = await lstat(socket);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new AgentError("no_agent", provider, socket, `byokcred: provider ${quote(provider)}: no byokcred agent is running on ${socket}; start it: ${this.#startCommand()}`);
      }
      throw new AgentError("connection", provider, socket, `byokcred: provider ${quote(provider)}: agent socket ${socket}: ${(err as Error).message}`);
    }
    const dir = dirname(socket);
    const ds = await lstat(dir);
    if (ds.isSymbolicLink()) throw untrusted(`its directory ${dir} is a symbolic link`, `set ${SOCKET_ENV} to a socket in a private directory`);
    if (!ds.isDirectory()) throw untrusted(`${dir} is not a directory`, `set ${SOCKET_ENV} to a socket in a private directory`);
    if (ds.uid !== uid) throw untrusted(`its directory ${dir} is owned by uid ${ds.uid}, not by this user (uid ${uid})`, `set XDG_RUNTIME_DIR or ${SOCKET_ENV} to a private directory`);
    if ((ds.mode & 0o077) !== 0) throw untrusted(`its directory ${dir} has mode ${(ds.mode & 0o777).toString(8).padStart(4, "0")}`, `run chmod 700 on it`);
    if (!st.isSocket()) throw new AgentError("untrusted", provider, socket, `byokcred: provider ${quote(provider)}: ${socket} is not a socket; remove it or set ${SOCKET_ENV}`);
    if (st.uid !== uid) throw untrusted(`it is owned by uid ${st.uid}, not by this user (uid ${uid})`, "remove it");
  }

  /** The command that starts the agent this client looks for. */
  #startCommand(): string {
    const parts = ["byokcred"];
    const config = this.#opts.config;
    if (config) parts.push("-c", shellQuote(config));
    parts.push("agent");
    // Without --socket the agent listens on the default socket, or on its
    // config's own next to it when another config holds the default.
    const def = defaultSocket(this.#opts.env);
    if (this.#socket !== def && !(config && this.#socket === configSocket(def, config))) parts.push("--socket", shellQuote(this.#socket));
    return parts.join(" ") + " &";
  }
}

const clients = new Map<string, AgentClient>();

/** The client shared by every callback with the same socket, config and timeouts. */
export function sharedClient(opts: ClientOptions = {}): AgentClient {
  const env = opts.env ?? process.env;
  const config = opts.config ?? env.BYOKCRED_CONFIG;
  const key = JSON.stringify([opts.socket ?? defaultSocket(env), config ? resolve(config) : "", opts.timeoutMs, opts.connectTimeoutMs]);
  let c = clients.get(key);
  if (!c) {
    c = new AgentClient(opts);
    clients.set(key, c);
  }
  return c;
}

/** The SDK's ProviderTokenArgs (@github/copilot-sdk), structurally. */
export interface ProviderTokenArgs {
  readonly providerName: string;
  readonly sessionId?: string;
}

/**
 * A bearerTokenProvider for the Copilot SDK's ProviderConfig or a named
 * provider config: before every model request it asks the agent for the
 * provider's current credential (a socket round trip on a kept connection;
 * the agent refreshes ahead of expiry).
 *
 * name is the byokcred provider ("" for the config's default provider).
 * The callback refuses a request for another SDK provider than its own
 * ("default", the single-provider session's name, is accepted), so one
 * provider's credential never reaches another's requests.
 */
export function bearerTokenProvider(name: string, opts: ClientOptions = {}): (args: ProviderTokenArgs) => Promise<string> {
  const client = sharedClient(opts);
  return async (args: ProviderTokenArgs) => {
    if (args?.providerName && args.providerName !== "default" && name && args.providerName !== name) {
      throw new AgentError("provider", name, client.socket, `byokcred: token requested for SDK provider ${quote(args.providerName)} from the callback of ${quote(name)}; give each named provider its own bearerTokenProvider`);
    }
    return (await client.token(name)).reveal();
  };
}

/** The parts of the SDK's ProviderConfig that providerConfig fills in. */
export interface ProviderConfig {
  type: "openai" | "azure" | "anthropic";
  baseUrl: string;
  wireApi?: "completions" | "responses";
  modelId?: string;
  wireModel?: string;
  azure?: { apiVersion?: string };
  headers?: Record<string, string>;
  apiKey?: string;
  bearerToken?: string;
  bearerTokenProvider?: (args: ProviderTokenArgs) => Promise<string>;
}

/** The SDK's NamedProviderConfig, as namedProviderConfig fills it in. */
export interface NamedProviderConfig extends Omit<ProviderConfig, "modelId" | "wireModel"> {
  name: string;
}

/** Options of providerConfig: the client's, and the values of withheld headers. */
export interface ProviderConfigOptions extends ClientOptions {
  /**
   * Headers added to the provider's own. The agent does not send a header
   * whose value came from an environment variable or whose name says it is a
   * credential; supply each such header here, or providerConfig fails
   * naming it.
   */
  headers?: Record<string, string>;
}

/**
 * The SDK provider config for a byokcred provider — the TypeScript
 * counterpart of the Go session factory, so the YAML file stays the single
 * source of truth. Type, base URL, wire API, model, API version and
 * headers come from the agent; the credential goes where the runtime wants
 * it for the provider's type:
 *   - a bearer token, or an openai-type API key: bearerTokenProvider, asked
 *     before every model request;
 *   - refresh: per_session: bearerToken, fetched now, for the session's life;
 *   - an Azure or Anthropic API key (its own header, Api-Key / X-Api-Key,
 *     which only the static field produces): apiKey, fetched now.
 * One credential is fetched now in every case, so a broken one fails here.
 */
export async function providerConfig(name: string, opts: ProviderConfigOptions = {}): Promise<ProviderConfig> {
  const client = sharedClient(opts);
  const d = await client.describe(name);
  const env = opts.env ?? process.env;
  const missing = new Set<string>();
  const baseUrl = expandTemplate(d.baseUrl, env, missing);
  const headers = mergeHeaders(d, opts.headers, env, missing, client.socket);
  const cfg: ProviderConfig = { type: d.type, baseUrl };
  if (d.wireApi) cfg.wireApi = d.wireApi;
  if (d.model) cfg.modelId = d.model;
  if (d.wireModel) cfg.wireModel = d.wireModel;
  if (d.apiVersion) cfg.azure = { apiVersion: d.apiVersion };
  if (headers) cfg.headers = headers;
  return wire(cfg, d, client, name || d.name);
}

/** A named provider for a multi-provider session (SessionConfig.providers), wired as providerConfig wires it; its name is the byokcred provider's. */
export async function namedProviderConfig(name: string, opts: ProviderConfigOptions = {}): Promise<NamedProviderConfig> {
  const { modelId: _m, wireModel: _w, ...rest } = await providerConfig(name, opts);
  void _m;
  void _w;
  return { name, ...rest };
}

async function wire(cfg: ProviderConfig, d: ProviderDescription, client: AgentClient, name: string): Promise<ProviderConfig> {
  const tok = await client.token(name); // fails here, not on the first request
  if (d.credentialHeader !== "Authorization") {
    cfg.apiKey = tok.reveal();
  } else if (d.refresh === "per_session") {
    cfg.bearerToken = tok.reveal();
  } else {
    const cb = async (args: ProviderTokenArgs) => {
      if (args?.providerName && args.providerName !== "default" && args.providerName !== name) {
        throw new AgentError("provider", name, client.socket, `byokcred: token requested for SDK provider ${quote(args.providerName)} from the callback of ${quote(name)}; give each named provider its own config`);
      }
      return (await client.token(name)).reveal();
    };
    cfg.bearerTokenProvider = cb;
  }
  return cfg;
}

function mergeHeaders(d: ProviderDescription, extra: Record<string, string> | undefined, env: Record<string, string | undefined>, missing: Set<string>, socket: string): Record<string, string> | undefined {
  const given = new Set(Object.keys(extra ?? {}).map((h) => h.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [h, v] of Object.entries(d.headers)) {
    if (!given.has(h.toLowerCase())) out[h] = expandTemplate(v, env, missing);
  }
  Object.assign(out, extra ?? {});
  const withheld = d.withheldHeaders.filter((h) => !given.has(h.toLowerCase()));
  const problems: string[] = [];
  if (withheld.length > 0) problems.push(`the agent does not send header(s) ${withheld.join(", ")} (a credential by its name); pass them in the headers option`);
  if (missing.size > 0) problems.push(`its config takes ${[...missing].map((v) => "$" + v).join(", ")} from the environment, which the agent does not send (it may be a secret) and which is not set in this process; set it as the agent has it (a header may instead be passed in the headers option)`);
  if (problems.length > 0) throw new AgentError("headers", d.name, socket, `byokcred: provider ${quote(d.name)}: ${problems.join("; ")}`);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** s with each ${NAME} replaced by env[NAME] and each $$ by $ (the agent's templates); unset or empty variables are added to missing. */
function expandTemplate(s: string, env: Record<string, string | undefined>, missing: Set<string>): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "$" && s[i + 1] === "$") {
      out += "$";
      i++;
    } else if (s[i] === "$" && s[i + 1] === "{" && s.indexOf("}", i) > 0) {
      const end = s.indexOf("}", i);
      const name = s.slice(i + 2, end);
      const v = env[name];
      if (v) out += v;
      else missing.add(name);
      i = end;
    } else {
      out += s[i];
    }
  }
  return out;
}

/** Why a credential cannot go in a header, or "" when it can. */
function checkCredential(value: string, kind: string | undefined): string {
  if (value === "") return "is empty";
  if (value.length > MAX_TOKEN) return `is ${value.length} bytes, more than ${MAX_TOKEN}`;
  const ok = kind === "api_key" ? /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/ : /^[\x21-\x7e]+$/;
  return ok.test(value) ? "" : "holds characters a header cannot carry";
}

/** An agent's message, fit for a log line: capped, no control characters. */
function sanitize(s: string): string {
  const capped = s.length > MAX_ERROR ? s.slice(0, MAX_ERROR) + "…" : s;
  return capped.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, "?");
}

function quote(name: string): string {
  return name ? JSON.stringify(name) : "(default)";
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
