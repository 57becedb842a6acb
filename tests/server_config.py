"""TOML blocks the real-server tests append to :func:`server_process.write_config`'s
configuration (its ``more``): a carrier trunk, users with their passwords, a project, a
mailbox and the SMTP server it mails through.  Each returns whole TOML lines without the
last newline, to sit in the test's f-string one a line."""

from __future__ import annotations

SMTP_FROM = "Callbridge <voicemail@example.com>"


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def trunk(
    uri: str, *, name: str = "carrier", default: bool = True, inbound: tuple[str, ...] = ()
) -> str:
    """A ``[[trunks]]`` block to ``uri`` (``sip:host:port``); ``inbound`` are the networks
    its calls come from (``inbound_addresses``), none: the trunk only carries calls out."""
    lines = f'[[trunks]]\nname = "{name}"\nuri = "{uri}"\n'
    if default:
        lines += "default = true\n"
    if inbound:
        lines += f"inbound_addresses = {_strings(inbound)}\n"
    return lines.rstrip("\n")


def users(*extensions: str, project: int | None = None) -> str:
    """A ``[[users]]`` block an extension, each password ``secret`` + the extension, all in
    ``project`` if given."""
    belongs = "" if project is None else f"\nproject = {project}"
    return "\n".join(
        f'[[users]]\nextension = "{extension}"\npassword = "secret{extension}"{belongs}'
        for extension in extensions
    )


def project(project_id: int, name: str) -> str:
    """A ``[[projects]]`` block."""
    return f'[[projects]]\nid = {project_id}\nname = "{name}"'


def mailbox(
    mailbox_id: str,
    *,
    email: tuple[str, ...] = (),
    users: tuple[str, ...] = (),
    max_seconds: int = 30,
    as_attachment: bool = True,
) -> str:
    """A ``[[mailboxes]]`` block: mailed to ``email``, lit on ``users``' phones."""
    lines = f'[[mailboxes]]\nid = "{mailbox_id}"\n'
    if email:
        lines += f"email = {_strings(email)}\n"
    if users:
        lines += f"users = {_strings(users)}\n"
    lines += f"max_seconds = {max_seconds}\n"
    if as_attachment:
        lines += "as_attachment = true\n"
    return lines.rstrip("\n")


def smtp(port: int) -> str:
    """The ``[smtp]`` section for a test's aiosmtpd on loopback ``port``: quick retries and
    a short timeout, so a down server is noticed within the test."""
    return (
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "{SMTP_FROM}"\n'
        "retry_seconds = 0.5\ntimeout = 2"
    )
