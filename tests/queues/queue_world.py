"""What the queue tests share (a module of its own: ``conftest`` is ambiguous across test
folders)."""

from __future__ import annotations

ENGINE_HOST = "127.0.0.1"
ENGINE_PORT = 5260  # queues' SIP ports: 5260-5279; RTP 48000-48599
USERS = tuple((f"10{n:02d}", f"secret10{n:02d}") for n in range(1, 4))
