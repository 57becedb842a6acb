"""The ``[mwi]`` section: message-summary subscriptions (README, "Message waiting")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MwiSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_expires: int = Field(default=60, ge=1, le=86_400)
    max_expires: int = Field(default=3600, ge=1, le=86_400)
    max_subscriptions: int = Field(default=10_000, ge=1, le=1_000_000)
    max_per_user: int = Field(default=8, ge=1, le=1000)

    @model_validator(mode="after")
    def _durations(self) -> MwiSection:
        if self.min_expires > self.max_expires:
            raise ValueError("[mwi] min_expires must not be above max_expires")
        return self
