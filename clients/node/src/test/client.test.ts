// Unit tests of the client against a scripted fake agent on a unix socket.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { inspect } from "node:util";

import type { NamedProviderConfig as SDKNamedProviderConfig, ProviderConfig as SDKProviderConfig } from "@github/copilot-sdk";

import { AgentClient, AgentError, bearerTokenProvider, configSocket, defaultSocket, namedProviderConfig, providerConfig } from "../index.js";

const CANARY = "CANARY-node-client-7d1e";
const CONFIG = "/etc/byokcred.yaml";

const base = mkdtempSync(join(tmpdir(), "byokcred-client-test-"));
after(() => rmSync(base, { recursive: true, force: true }));

// Every fake agent and client of a test is closed after it, passed or not:
// an open server would keep the test process alive.
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
function client(opts: ConstructorParameters<typeof AgentClient>[0]): AgentClient {
  const c = new AgentClient(opts);
  open.push(c);
  return c;
}

let dirs = 0;
/** A fresh private (0700) directory for a socket. */
function privateDir(): string {
  const d = join(base, `d${dirs++}`);
  mkdirSync(d, { mode: 0o700 });
  return d;
}

type Req = { v: number; op: string; provider?: string; config?: string; keep?: boolean };
interface Fake {
  socket: string;
  server: Server;
  connections: number;
  requests: Req[];
  close(): Promise<void>;
}

/**
 * A fake agent: the liveness space on connect (unless silent), then for each
 * request line the scripted answer; the connection stays open only when the
 * answer says keep, and each later request on it gets its acknowledging
 * space first (as the real agent does). "hang" never answers; "stop" sends
 * not even the acknowledgement (a stopped agent).
 */
async function fakeAgent(answer: (req: Req, n: number) => object | "hang" | "stop", opts: { socket?: string; silent?: boolean } = {}): Promise<Fake> {
  const socket = opts.socket ?? join(privateDir(), "agent.sock");
  const conns = new Set<Socket>();
  const fake: Fake = {
    socket,
    server: createServer(),
    connections: 0,
    requests: [],
    close: () => new Promise((res) => { for (const c of conns) c.destroy(); fake.server.close(() => res()); }),
  };
  open.push(fake);
  fake.server.on("connection", (c) => {
    fake.connections++;
    conns.add(c);
    c.on("close", () => conns.delete(c));
    if (!opts.silent) c.write(" ");
    let kept = false;
    let buf = "";
    c.setEncoding("utf8");
    c.on("data", (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const req = JSON.parse(buf.slice(0, nl)) as Req;
        buf = buf.slice(nl + 1);
        fake.requests.push(req);
        const a = answer(req, fake.requests.length);
        if (a === "stop") return;
        if (kept) c.write(" ");
        if (a === "hang") return;
        c.write(JSON.stringify(a) + "\n");
        kept = !!(a as { keep?: boolean }).keep;
        if (!kept) c.end();
      }
    });
  });
  await new Promise<void>((res) => fake.server.listen(socket, () => res()));
  return fake;
}

const tokenAnswer = (req: Req) => ({ v: 1, provider: req.provider || "foundry", kind: "bearer", token: CANARY, expiry: 1_900_000_000_000, keep: req.keep });

/** The error a promise rejects with, which must be an AgentError. */
async function agentError(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AgentError, `want AgentError, got ${err}`);
    assert.ok(!err.message.includes(CANARY), `the error holds the credential: ${err.message}`);
    return err;
  }
  assert.fail("no error");
}

describe("defaultSocket", () => {
  const cases: { name: string; env: Record<string, string>; want: string }[] = [
    { name: "the variable wins", env: { BYOKCRED_AGENT_SOCK: "/x/a.sock", XDG_RUNTIME_DIR: "/run/user/7" }, want: "/x/a.sock" },
    { name: "XDG_RUNTIME_DIR", env: { XDG_RUNTIME_DIR: "/run/user/7" }, want: "/run/user/7/byokcred/agent.sock" },
    { name: "TMPDIR", env: { TMPDIR: "/var/tmp/" }, want: `/var/tmp/byokcred-${process.geteuid!()}/agent.sock` },
    { name: "nothing set", env: {}, want: `/tmp/byokcred-${process.geteuid!()}/agent.sock` },
  ];
  for (const c of cases) it(c.name, () => assert.equal(defaultSocket(c.env), c.want));
  it("configSocket is the Go agent's ConfigSocket", () => {
    // agent.ConfigSocket("/run/user/1000/byokcred/agent.sock", "/etc/byokcred.yaml")
    assert.equal(configSocket("/run/user/1000/byokcred/agent.sock", CONFIG), "/run/user/1000/byokcred/agent-d974df1e6c6a.sock");
  });
});

describe("token", () => {
  it("asks with version, op, provider, config and keep; the token is redacted everywhere but reveal()", async () => {
    const fake = await fakeAgent(tokenAnswer);
    const c = client({ socket: fake.socket, config: CONFIG });
    const tok = await c.token("foundry");
    assert.deepEqual(fake.requests, [{ v: 1, op: "token", provider: "foundry", config: CONFIG, keep: true }]);
    assert.equal(tok.reveal(), CANARY);
    assert.deepEqual([tok.provider, tok.kind, tok.expiry?.getTime()], ["foundry", "bearer", 1_900_000_000_000]);
    for (const shown of [String(tok), JSON.stringify(tok), inspect(tok), `${tok}`]) {
      assert.ok(!shown.includes(CANARY), `shown: ${shown}`);
    }
    c.close();
    await fake.close();
  });

  it("one kept connection for many calls", async () => {
    const fake = await fakeAgent(tokenAnswer);
    const c = client({ socket: fake.socket });
    for (let i = 0; i < 5; i++) assert.equal((await c.token()).reveal(), CANARY);
    assert.equal(fake.connections, 1);
    c.close();
    await fake.close();
  });

  it("an agent that predates keep: a connection per call, every call answered", async () => {
    const fake = await fakeAgent((req) => ({ ...tokenAnswer(req), keep: undefined }));
    const c = client({ socket: fake.socket });
    for (let i = 0; i < 3; i++) assert.equal((await c.token()).reveal(), CANARY);
    assert.equal(fake.connections, 3);
    await fake.close();
  });

  it("overlapping calls each get an answer", async () => {
    const fake = await fakeAgent(tokenAnswer);
    const c = client({ socket: fake.socket });
    const got = await Promise.all([c.token("a"), c.token("b"), c.token("c")]);
    assert.deepEqual(got.map((t) => t.provider), ["a", "b", "c"]);
    c.close();
    await fake.close();
  });

  it("reconnects when the agent closed a kept connection (idle, or restarted)", async () => {
    const fake = await fakeAgent(tokenAnswer);
    const c = client({ socket: fake.socket });
    await c.token();
    await fake.close(); // drops the kept connection
    const again = await fakeAgent(tokenAnswer, { socket: fake.socket });
    assert.equal((await c.token()).reveal(), CANARY);
    assert.equal(again.connections, 1);
    c.close();
    await again.close();
  });

  it("the agent's error keeps its code, names provider and socket, and is sanitized", async () => {
    const fake = await fakeAgent((req) => ({ v: 1, code: "provider", error: 'unknown provider "nope"\n\x1b[31mfake line', keep: req.keep }));
    const c = client({ socket: fake.socket });
    const err = await agentError(c.token("nope"));
    assert.equal(err.code, "provider");
    assert.equal(err.message, `byokcred: provider "nope": the agent at ${fake.socket} answered: unknown provider "nope"??[31mfake line`);
    c.close();
    await fake.close();
  });

  it("a credential a header cannot carry is refused without showing it", async () => {
    const fake = await fakeAgent((req) => ({ ...tokenAnswer(req), token: CANARY + "\r\nX-Evil: 1" }));
    const err = await agentError(client({ socket: fake.socket }).token());
    assert.equal(err.code, "token");
    assert.match(err.message, /holds characters a header cannot carry/);
    await fake.close();
  });

  it("an answer slower than timeoutMs fails with the timeout", async () => {
    const fake = await fakeAgent(() => "hang");
    const err = await agentError(client({ socket: fake.socket, timeoutMs: 300 }).token("slow"));
    assert.equal(err.code, "timeout");
    assert.equal(err.message, `byokcred: provider "slow": no answer from the agent at ${fake.socket} within 300 ms; see the agent's log, or raise timeoutMs`);
    await fake.close();
  });

  it("an agent that accepts but never sends its first byte (stopped) fails fast", async () => {
    const fake = await fakeAgent(() => "hang", { silent: true });
    const err = await agentError(client({ socket: fake.socket, timeoutMs: 30_000, connectTimeoutMs: 200 }).token("foundry"));
    assert.equal(err.code, "timeout");
    assert.match(err.message, /accepted the connection but does not respond \(stopped, or stuck\?\); restart it: byokcred agent --socket /);
    await fake.close();
  });

  it("a kept connection whose agent stops answering fails at the first-byte limit, not the call timeout, and is not retried", async () => {
    const fake = await fakeAgent((req, n) => (n === 1 ? tokenAnswer(req) : "stop"));
    const c = client({ socket: fake.socket, timeoutMs: 30_000, connectTimeoutMs: 200 });
    assert.equal((await c.token()).reveal(), CANARY);
    const err = await agentError(c.token("foundry"));
    assert.equal(err.code, "timeout");
    assert.equal(err.socket, fake.socket);
    assert.equal(err.message, `byokcred: provider "foundry": the agent at ${fake.socket} accepted the connection but does not respond (stopped, or stuck?); restart it: byokcred agent --socket ${fake.socket} &`);
    // Not asked again on a new connection: the stopped agent's socket would
    // accept it and leave it as silent.
    assert.deepEqual({ connections: fake.connections, requests: fake.requests.length }, { connections: 1, requests: 2 });
    c.close();
    await fake.close();
  });

  it("a kept connection's acknowledged request waits for its answer up to timeoutMs", async () => {
    const fake = await fakeAgent((req, n) => (n === 1 ? tokenAnswer(req) : "hang"));
    const c = client({ socket: fake.socket, timeoutMs: 600, connectTimeoutMs: 100 });
    await c.token();
    const err = await agentError(c.token("slow"));
    assert.equal(err.code, "timeout");
    assert.equal(err.message, `byokcred: provider "slow": no answer from the agent at ${fake.socket} within 600 ms; see the agent's log, or raise timeoutMs`);
    c.close();
    await fake.close();
  });
});

describe("not running, untrusted", () => {
  it("no socket: the command that starts the agent", async () => {
    const socket = join(privateDir(), "agent.sock");
    const err = await agentError(client({ config: "/home/u/my config.yaml", env: { BYOKCRED_AGENT_SOCK: socket } }).token("foundry"));
    assert.equal(err.code, "no_agent");
    assert.equal(err.message, `byokcred: provider "foundry": no byokcred agent is running on ${socket}; start it: byokcred -c '/home/u/my config.yaml' agent &`);
    assert.deepEqual([err.provider, err.socket], ["foundry", socket]);
  });

  it("a socket of the user's choosing is in the command", async () => {
    const socket = join(privateDir(), "my.sock");
    const err = await agentError(client({ socket, config: CONFIG, env: {} }).token("foundry"));
    assert.equal(err.message, `byokcred: provider "foundry": no byokcred agent is running on ${socket}; start it: byokcred -c ${CONFIG} agent --socket ${socket} &`);
  });

  it("the default socket, or the config's own: no --socket", async () => {
    const dir = privateDir();
    for (const socket of [join(dir, "agent.sock"), configSocket(join(dir, "agent.sock"), CONFIG)]) {
      const err = await agentError(client({ socket, config: CONFIG, env: { BYOKCRED_AGENT_SOCK: join(dir, "agent.sock") } }).token("foundry"));
      assert.equal(err.message, `byokcred: provider "foundry": no byokcred agent is running on ${socket}; start it: byokcred -c ${CONFIG} agent &`);
    }
  });

  it("a stale socket left by a killed agent is no agent", async () => {
    // A process that listens and is killed leaves its socket file behind
    // (net.Server.close would remove it).
    const sock = join(privateDir(), "agent.sock");
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, "SIGKILL"))`]);
    assert.ok(lstatSync(sock).isSocket(), "no stale socket was left");
    const err = await agentError(client({ socket: sock }).token("foundry"));
    assert.equal(err.code, "no_agent");
    assert.match(err.message, /no byokcred agent is running on/);
  });

  const untrusted: { name: string; setup: (dir: string) => string; want: RegExp }[] = [
    { name: "directory open to others", setup: (dir) => { chmodSync(dir, 0o755); return join(dir, "agent.sock"); }, want: /its directory .* has mode 0755; another user could listen in its place: run chmod 700 on it/ },
    { name: "a regular file at the socket path", setup: (dir) => { const p = join(dir, "agent.sock"); writeFileSync(p, "x"); return p; }, want: /is not a socket/ },
  ];
  for (const c of untrusted) {
    it(c.name, async () => {
      const dir = privateDir();
      const socket = c.setup(dir);
      if (c.name.startsWith("directory")) {
        const fake = await fakeAgent(tokenAnswer, { socket });
        const err = await agentError(client({ socket }).token());
        assert.equal(fake.connections, 0, "an untrusted socket was dialed");
        await fake.close();
        assert.equal(err.code, "untrusted");
        assert.match(err.message, c.want);
        return;
      }
      const err = await agentError(client({ socket }).token());
      assert.equal(err.code, "untrusted");
      assert.match(err.message, c.want);
    });
  }

  it("the default socket's agent serves another config: the config's own agent is asked", async () => {
    const dir = privateDir();
    const shared = await fakeAgent((req) => ({ v: 1, code: "config", error: `the agent serves /other.yaml, not ${req.config}` }), { socket: join(dir, "agent.sock") });
    const own = await fakeAgent(tokenAnswer, { socket: configSocket(join(dir, "agent.sock"), CONFIG) });
    const c = client({ socket: shared.socket, config: CONFIG });
    assert.equal((await c.token()).reveal(), CANARY);
    assert.equal(c.socket, own.socket);
    assert.equal((await c.token()).reveal(), CANARY);
    assert.deepEqual([shared.requests.length, own.requests.length], [1, 2]);
    c.close();
    await shared.close();
    await own.close();
  });
});

describe("bearerTokenProvider", () => {
  it("answers its provider and the single-provider name, refuses another's", async () => {
    const fake = await fakeAgent(tokenAnswer);
    const cb = bearerTokenProvider("foundry", { socket: fake.socket });
    assert.equal(await cb({ providerName: "default", sessionId: "s" }), CANARY);
    assert.equal(await cb({ providerName: "foundry", sessionId: "s" }), CANARY);
    const err = await agentError(cb({ providerName: "bedrock", sessionId: "s" }));
    assert.equal(err.code, "provider");
    assert.deepEqual(fake.requests.map((r) => r.provider), ["foundry", "foundry"]);
    await fake.close();
  });
});

describe("providerConfig", () => {
  const describeAnswer = (cfg: object, kind = "bearer") => (req: Req) =>
    req.op === "provider"
      ? { v: 1, provider: req.provider || "foundry", kind, provider_config: cfg, keep: req.keep }
      : { ...tokenAnswer(req), kind };
  it("a bearer provider: the callback wired, the description's fields set, no static secret", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "openai", base_url: "https://foundry.example/openai/v1", wire_api: "responses", model: "gpt-5",
      headers: { "X-Team": "blue" }, credential_header: "Authorization", refresh: "per_request" }));
    const pc: SDKProviderConfig = await providerConfig("", { socket: fake.socket });
    const { bearerTokenProvider: cb, ...rest } = pc;
    assert.deepEqual(rest, { type: "openai", baseUrl: "https://foundry.example/openai/v1", wireApi: "responses", modelId: "gpt-5", headers: { "X-Team": "blue" } });
    assert.equal(await cb!({ providerName: "default", sessionId: "s" }), CANARY);
    assert.deepEqual(fake.requests.map((r) => [r.op, r.provider ?? ""]), [["provider", ""], ["token", "foundry"], ["token", "foundry"]]);
    await fake.close();
  });

  it("an Azure API key goes in apiKey (its own header), fetched once", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "azure", base_url: "https://az.example", api_version: "2024-10-21", model: "gpt-4o", wire_model: "prod",
      credential_header: "Api-Key", refresh: "per_request" }, "api_key"));
    const pc: SDKProviderConfig = await providerConfig("az", { socket: fake.socket });
    assert.deepEqual(pc, { type: "azure", baseUrl: "https://az.example", azure: { apiVersion: "2024-10-21" }, modelId: "gpt-4o", wireModel: "prod", apiKey: CANARY });
    await fake.close();
  });

  it("per_session: bearerToken", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "openai", base_url: "https://o.example", credential_header: "Authorization", refresh: "per_session" }));
    const pc = await providerConfig("o", { socket: fake.socket });
    assert.deepEqual([pc.bearerToken, pc.bearerTokenProvider, pc.apiKey], [CANARY, undefined, undefined]);
    await fake.close();
  });

  it("withheld headers must be supplied", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "openai", base_url: "https://o.example", headers: { "X-Team": "blue" },
      withheld_headers: ["Ocp-Apim-Subscription-Key"], credential_header: "Authorization", refresh: "per_request" }));
    const err = await agentError(providerConfig("o", { socket: fake.socket }));
    assert.equal(err.code, "headers");
    assert.equal(err.message, `byokcred: provider "o": the agent does not send header(s) Ocp-Apim-Subscription-Key (a credential by its name); pass them in the headers option`);
    const pc = await providerConfig("o", { socket: fake.socket, headers: { "ocp-apim-subscription-key": "k" } });
    assert.deepEqual(pc.headers, { "X-Team": "blue", "ocp-apim-subscription-key": "k" });
  });

  it("templates: ${NAME} from this process's environment, $$ a literal $", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "openai", base_url: "https://fn.example/api?code=${FN_CODE}", credential_header: "Authorization", refresh: "per_request",
      headers: { "X-Sub": "pre-${SUB_KEY}", "X-Cost": "$$5", "X-Given": "${NOT_SET}" } }));
    const env = { FN_CODE: "c0de", SUB_KEY: "s3cret" };
    const pc = await providerConfig("o", { socket: fake.socket, env, headers: { "x-given": "mine" } });
    assert.equal(pc.baseUrl, "https://fn.example/api?code=c0de");
    assert.deepEqual(pc.headers, { "X-Sub": "pre-s3cret", "X-Cost": "$5", "x-given": "mine" });
    const err = await agentError(providerConfig("o", { socket: fake.socket, env: { SUB_KEY: "s3cret" } }));
    assert.equal(err.code, "headers");
    assert.equal(err.message, `byokcred: provider "o": its config takes $FN_CODE, $NOT_SET from the environment, which the agent does not send (it may be a secret) and which is not set in this process; set it as the agent has it (a header may instead be passed in the headers option)`);
  });

  it("namedProviderConfig: the provider's name, no model fields", async () => {
    const fake = await fakeAgent(describeAnswer({ type: "openai", base_url: "https://o.example", model: "m", credential_header: "Authorization", refresh: "per_request" }));
    const np: SDKNamedProviderConfig = await namedProviderConfig("alpha", { socket: fake.socket });
    const { bearerTokenProvider: cb, ...rest } = np;
    assert.deepEqual(rest, { name: "alpha", type: "openai", baseUrl: "https://o.example" });
    assert.equal(await cb!({ providerName: "alpha", sessionId: "s" }), CANARY);
    await agentError(cb!({ providerName: "beta", sessionId: "s" }));
    await fake.close();
  });

  it("an agent that predates the provider op: says to restart it", async () => {
    const fake = await fakeAgent((req) => ({ v: 1, code: "bad_input", error: `unknown op "${req.op}"` }));
    const err = await agentError(providerConfig("o", { socket: fake.socket }));
    assert.equal(err.code, "bad_input");
    assert.match(err.message, /unknown op "provider"; the agent may be older than this client: restart it with this byokcred \(byokcred agent --socket .* &\)$/);
    await fake.close();
  });
});
