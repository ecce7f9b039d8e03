"""The design's hybridQuery: a prompt, a provider, a model — the SDK's tools and loop, another
provider's inference, and what it really cost at that provider's prices."""

import asyncio

from claude_agent_sdk import ResultMessage

from hybridcc.sdk import hybrid_query


async def main() -> None:
    async for message in hybrid_query(
        "Run `echo hello from bash` and tell me what it printed.",
        provider="openrouter",  # a hybridcc profile; omit it and select_provider() picks one
        model="qwen/qwen3-coder",
        allowed_tools=["Bash"],  # any ClaudeAgentOptions keyword passes through
    ):
        if isinstance(message, ResultMessage):
            claude_said = sum(u["claudeCostUSD"] for u in (message.model_usage or {}).values())
            print("answer:", message.result)
            print(f"cost: ${message.total_cost_usd:.6f} at OpenRouter's prices (Claude prices: ${claude_said:.6f})")


asyncio.run(main())
