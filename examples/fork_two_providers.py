"""Fork one conversation and explore two branches at once, each on a different provider."""

import asyncio

from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query

from hybridcc.sdk import session


async def ask(prompt: str, options: ClaudeAgentOptions) -> ResultMessage:
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, ResultMessage):
            return message
    raise RuntimeError("no result")


async def main() -> None:
    with session("deepseek") as deepseek, session("openrouter") as openrouter:
        base = await ask("We need a cache for API responses. Name the options.", deepseek.options())
        # fork_session=True: each branch gets a new session id; the original transcript is untouched.
        lru, ttl = await asyncio.gather(
            ask("Branch A: go with LRU.", deepseek.options(resume=base.session_id, fork_session=True)),
            ask("Branch B: go with a TTL.", openrouter.options(resume=base.session_id, fork_session=True)),
        )
    print("original:", base.session_id)
    print("branch A:", lru.session_id, lru.result)
    print("branch B:", ttl.session_id, ttl.result)


asyncio.run(main())
