// A long-running Copilot SDK program whose Entra ID tokens never go stale:
// byokcred's version of the "token refresh for long-running applications"
// example in the Copilot SDK's Azure managed identity guide. That example
// captures one bearer token when a session is created and must create a new
// session before the token expires; here one session lives as long as the
// program, and the runtime asks the byokcred agent for the provider's
// current token before every model request (a socket round trip; the agent
// refreshes ahead of expiry, one identity request per token lifetime for
// every process of the user).
//
//   byokcred -c byokcred.yaml agent &
//   BYOKCRED_CONFIG=byokcred.yaml node long-running.js foundry
//
// It answers each line of standard input as a prompt, one line of output per
// turn, until standard input ends. A failed turn (the agent was stopped, the
// identity endpoint is down) prints its error and the program goes on: the
// next turn works again once the agent is back.
import { CopilotClient } from "@github/copilot-sdk";
import { providerConfig } from "@byokcred/client";
import { createInterface } from "node:readline";

const name = process.argv[2] ?? ""; // "" is the config's default provider

// The YAML file is the single source of truth: type, base URL, wire API,
// model, API version and headers come from the agent, and so does the
// callback that fetches each request's token.
const provider = await providerConfig(name);

const client = new CopilotClient({ useLoggedInUser: false });
const session = await client.createSession({
  model: provider.modelId!,
  provider,
  availableTools: [], // a chat, not a coding agent: no shell, no file edits
});

for await (const prompt of createInterface({ input: process.stdin })) {
  try {
    const reply = await session.sendAndWait({ prompt }, 60_000);
    console.log(JSON.stringify({ reply: reply?.data.content ?? "" }));
  } catch (err) {
    console.log(JSON.stringify({ error: (err as Error).message }));
  }
}
await session.disconnect();
await client.stop();
