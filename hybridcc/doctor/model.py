"""The result of one check, and what a check may need to know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hybridcc.config.schema import Config, Profile

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    status: Status
    message: str
    fix: str = ""
    action: str = ""  # a safe fix `doctor --fix` may apply: start_proxy, start_ollama, pull:MODEL, init, chmod:PATH

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "area": self.area, "status": self.status, "message": self.message, "fix": self.fix}


@dataclass
class Context:
    config: Config | None
    config_error: str | None
    profiles: list[Profile] = field(default_factory=list)
    online: bool = False
    probe: bool = False
    timeout: float = 5.0
