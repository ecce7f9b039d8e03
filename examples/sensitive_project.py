"""select_provider with a sensitive project: the work stays on a local model, and a cloud profile
is refused before anything is sent."""

import asyncio
import tempfile
from pathlib import Path

from claude_agent_sdk import ResultMessage

from hybridcc.errors import HybridccError
from hybridcc.sdk import hybrid_query, select_provider


async def main() -> None:
    print("complex work goes to:", select_provider("complex"))
    print("sensitive work goes to:", select_provider("complex", sensitive=True))
    with tempfile.TemporaryDirectory() as project:
        Path(project, ".hybridcc.toml").write_text("sensitive = true\n")  # marks the repository
        async for message in hybrid_query("Summarise this project.", complexity="complex", cwd=project):
            if isinstance(message, ResultMessage):
                print("answer:", message.result)
        try:
            async for _ in hybrid_query("Summarise this project.", provider="openrouter", cwd=project):
                pass
        except HybridccError as exc:
            print("refused:", exc)


asyncio.run(main())
