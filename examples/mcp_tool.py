"""An in-process SDK MCP tool, called by a non-Claude model."""

import asyncio
from typing import Any

from claude_agent_sdk import ResultMessage, create_sdk_mcp_server, tool

from hybridcc.sdk import hybrid_query


@tool("add", "Add two integers", {"a": int, "b": int})
async def add(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}


async def main() -> None:
    calculator = create_sdk_mcp_server("calc", tools=[add])
    async for message in hybrid_query(
        "What is 19 + 23? Use the add tool.",
        provider="openrouter",
        mcp_servers={"calc": calculator},
        allowed_tools=["mcp__calc__add"],
        tool_search=False,  # offer the tool directly: many models never call ToolSearch first
    ):
        if isinstance(message, ResultMessage):
            print("answer:", message.result)


asyncio.run(main())
