"""Go back to a checkpoint: resume a session at an earlier message (resume_session_at), as if the
turns after it never happened. The original session stays as it was (fork_session=True)."""

import asyncio

from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, query

from hybridcc.sdk import session


async def turn(prompt: str, options: ClaudeAgentOptions) -> tuple[str, ResultMessage]:
    """(uuid of the turn's last assistant message, the result)."""
    last_uuid = ""
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, AssistantMessage) and message.uuid:
            last_uuid = message.uuid
        if isinstance(message, ResultMessage):
            return last_uuid, message
    raise RuntimeError("no result")


async def main() -> None:
    with session("deepseek") as s:
        checkpoint, first = await turn("My name is Ada.", s.options())
        sid = first.session_id
        await turn("Actually, call me Bob.", s.options(resume=sid))
        _, back = await turn("What is my name?", s.options(resume=sid, resume_session_at=checkpoint, fork_session=True))
    print("from the checkpoint:", back.result)


asyncio.run(main())
