"""A rich progress bar fed by Ollama's pull stream."""

from __future__ import annotations

from hybridcc.config.schema import Config
from hybridcc.errors import ExitCode, HybridccError


class PullCancelled(HybridccError):
    exit_code = ExitCode.INTERRUPTED


def pull_with_progress(config: Config, model: str) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from hybridcc.cli.render import err
    from hybridcc.services import ollama as svc

    url = svc.base_url(config)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(f"pulling {model}", total=None)
        try:
            for item in svc.pull(url, model):
                if item.total:
                    bar.update(
                        task,
                        total=item.total,
                        completed=item.completed or 0,
                        description=f"{model}: {item.status[:40]}",
                    )
                else:
                    bar.update(task, description=f"{model}: {item.status[:40]}")
        except KeyboardInterrupt:
            raise PullCancelled(
                f"pull of {model} cancelled",
                hint=f"run `hybridcc ollama pull {model}` again to resume where it stopped",
            ) from None
