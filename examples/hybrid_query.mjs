// The design's hybridQuery in TypeScript / JavaScript (@anthropic-ai/claude-agent-sdk).
// `hybridcc env --format json --full` prints the complete environment for the CLI child (TS
// `options.env` replaces process.env, so it must be complete; provider keys are never in it) and
// a settings file that outranks any `env` block in ~/.claude/settings.json. `--lease PID` keeps
// the proxy up while this process lives.
import { execFileSync } from "node:child_process";
import { query } from "@anthropic-ai/claude-agent-sdk";

function hybridEnv(profile) {
  const args = ["env", "--profile", profile, "--format", "json", "--full", "--lease", String(process.pid)];
  return JSON.parse(execFileSync("hybridcc", args, { encoding: "utf8" })); // { env, settings }
}

// Claude Code prints this line for every query on a non-Claude model: noise, not an error.
const quiet = (data) => {
  const rest = data.split("\n").filter((line) => line && !line.includes("[claude-code:unrecognized_model]"));
  if (rest.length) process.stderr.write(rest.join("\n") + "\n");
};

export async function* hybridQuery({ prompt, provider, providerModel, options = {} }) {
  const { env, settings } = hybridEnv(provider);
  yield* query({ prompt, options: { stderr: quiet, ...options, env, settings, model: providerModel } });
}

for await (const message of hybridQuery({
  prompt: "Run `echo hello from typescript` and tell me what it printed.",
  provider: "openrouter",
  providerModel: "qwen/qwen3-coder",
  options: { allowedTools: ["Bash"] },
})) {
  if (message.type === "result") console.log("answer:", message.result);
}
