"""A permission callback (can_use_tool): the program, not a person, decides each tool call."""

import asyncio
from typing import Any

from claude_agent_sdk import (
    ClaudeSDKClient,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    ToolPermissionContext,
)

from hybridcc.sdk import session


async def read_only(
    tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    command = str(tool_input.get("command", ""))
    if tool_name == "Bash" and command.split()[:1] in (["ls"], ["cat"], ["echo"]):
        return PermissionResultAllow()
    print(f"denied: {tool_name} {command}")
    return PermissionResultDeny(message="this program only allows read-only commands")


async def main() -> None:
    with session("openrouter") as s:
        async with ClaudeSDKClient(s.options(can_use_tool=read_only)) as client:
            await client.query("Run `touch created-by-the-model` please.")
            async for message in client.receive_response():
                if isinstance(message, ResultMessage):
                    print("answer:", message.result)


asyncio.run(main())
