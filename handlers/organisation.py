"""Managing branches: the rules both the chat commands and the command line follow.

Every change is written to the audit log inside the same transaction as the change.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from bot.config import Settings
from bot.events import Reply
from bot.i18n import Catalog, Refusal
from bot.qr import render_qr
from storage import audit, branches, outbox, users
from storage.branches import Branch, NewBranch
from storage.db import Tx

KINDS = (
    "community",
    "market",
    "business",
    "platform",
    "franchise",
    "partner",
    "station",
    "association",
    "committee",
    "district",
)
"""The eight kinds a branch is built on (街道社区/园区 … 个私协会), then the levels above."""
EDITABLE = ("name", "kind", "district", "parent", "robot")
"""``robot``: the webhook URL of a WeCom group robot that also gets the branch's alerts."""
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: codes are read off posters and typed by thumb."""


class BranchError(Refusal):
    """A change to the organisation tree that its rules refuse."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def kind_of(raw: str, labels: dict[str, str]) -> str:
    """A kind by its key or its label in any language (``station``, ``网点站点``)."""
    wanted = raw.strip()
    for kind in KINDS:
        if wanted.lower() == kind or wanted == labels.get(kind):
            return kind
    raise BranchError("branch.bad_kind", kind=wanted, known=" ".join(KINDS))


async def parent_by_code(tx: Tx, code: str) -> int | None:
    if not code.strip():
        return None
    parent = await branches.by_code(tx, code)
    if parent is None:
        raise BranchError("branch.not_found", code=code.strip())
    return parent.id


async def add_branch(tx: Tx, actor: str, new: NewBranch, now: datetime) -> Branch:
    code = new.code.strip().upper() or new_code()
    if await branches.by_code(tx, code) is not None:
        raise BranchError("branch.code_taken", code=code)
    if not new.name.strip():
        raise BranchError("branch.no_name")
    branch = await branches.create(tx, replace(new, code=code, name=new.name.strip()), now)
    await audit.record(tx, actor, "branch_add", branch.code, now, branch.name)
    return branch


async def edit_branch(
    tx: Tx, actor: str, code: str, field: str, value: str, labels: dict[str, str], now: datetime
) -> Branch:
    branch = await existing(tx, code)
    if field not in EDITABLE:
        raise BranchError("branch.bad_field", field=field, known=" ".join(EDITABLE))
    if field == "parent":
        parent_id = await parent_by_code(tx, value)
        if parent_id is not None and await _would_loop(tx, branch.id, parent_id):
            raise BranchError("branch.loop", code=branch.code)
        changed = replace(branch, parent_id=parent_id)
    elif field == "kind":
        changed = replace(branch, kind=kind_of(value, labels))
    elif field == "robot":
        url = "" if value.strip() == "-" else value.strip()
        if url and not url.startswith(("https://", "http://")):
            raise BranchError("branch.bad_robot", url=url)
        changed = replace(branch, robot_webhook=url)
    elif not value.strip():
        raise BranchError("branch.no_name")
    elif field == "name":
        changed = replace(branch, name=value.strip())
    else:
        changed = replace(branch, district=value.strip())
    await branches.update(tx, changed)
    await audit.record(tx, actor, "branch_edit", branch.code, now, f"{field}={value.strip()}")
    return changed


async def _would_loop(tx: Tx, branch_id: int, parent_id: int) -> bool:
    above = await branches.ancestors(tx, parent_id)
    return parent_id == branch_id or any(b.id == branch_id for b in above)


async def existing(tx: Tx, code: str) -> Branch:
    branch = await branches.by_code(tx, code)
    if branch is None:
        raise BranchError("branch.not_found", code=code.strip())
    return branch


async def appoint(tx: Tx, actor: str, code: str, user_id: str, now: datetime) -> Branch:
    if ":" not in user_id:
        raise BranchError("branch.bad_user", user=user_id)
    branch = await existing(tx, code)
    await branches.appoint(tx, branch.id, user_id, actor, now)
    await audit.record(tx, actor, "secretary_appoint", branch.code, now, user_id)
    await _role_changed(tx, user_id, now)
    return branch


async def dismiss(tx: Tx, actor: str, code: str, user_id: str, now: datetime) -> Branch:
    branch = await existing(tx, code)
    if not await branches.dismiss(tx, branch.id, user_id):
        raise BranchError("branch.not_secretary", user=user_id, code=branch.code)
    await audit.record(tx, actor, "secretary_dismiss", branch.code, now, user_id)
    await _role_changed(tx, user_id, now)
    return branch


async def _role_changed(tx: Tx, user_id: str, now: datetime) -> None:
    """Queued with the change, so the user's command menu follows wherever it was made."""
    await outbox.add(tx, user_id, Reply(refresh_menu=True), now)


async def appoint_admin(tx: Tx, actor: str, user_id: str, now: datetime) -> None:
    if ":" not in user_id:
        raise BranchError("branch.bad_user", user=user_id)
    await branches.add_admin(tx, user_id, actor, now)
    await audit.record(tx, actor, "admin_appoint", user_id, now)
    await _role_changed(tx, user_id, now)


async def tell(
    tx: Tx, messages: Catalog, user_id: str, key: str, now: datetime, **params: object
) -> None:
    """A message to someone in their own language, from outside a chat (the command line)."""
    lang = await users.lang_of(tx, user_id)
    await outbox.add(tx, user_id, Reply(text=messages.t(lang, key, **params)), now)


async def tell_appointed(
    tx: Tx, messages: Catalog, settings: Settings, user_id: str, branch: Branch, now: datetime
) -> None:
    """A secretary appointed on the command line hears of it as in chat: with the join card."""
    link = join_link(settings, branch.code)
    await tell(
        tx,
        messages,
        user_id,
        "branch.you_are_secretary",
        now,
        name=branch.name,
        code=branch.code,
        link=link or f"/join {branch.code}",
    )


async def dismiss_admin(tx: Tx, actor: str, user_id: str, now: datetime) -> None:
    """Only an admin appointed in the bot; those of ``NUANXIN_ADMINS`` are the operator's."""
    if not await branches.remove_admin(tx, user_id):
        raise BranchError("branch.not_admin", user=user_id)
    await audit.record(tx, actor, "admin_dismiss", user_id, now)
    await _role_changed(tx, user_id, now)


IMPORT_COLUMNS = ("code", "name", "kind", "district", "parent_code", "secretaries")


async def import_csv(
    tx: Tx, actor: str, text: str, labels: dict[str, str], now: datetime
) -> tuple[int, int]:
    """Adds new branches and updates known ones by code; parents may come later in the file.
    Returns (added, updated). Any bad row refuses the whole file, naming the row."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    missing = [c for c in IMPORT_COLUMNS[:3] if rows and c not in rows[0]]
    if missing or not rows:
        raise BranchError("branch.import_columns", columns=", ".join(IMPORT_COLUMNS))
    added = updated = 0
    for number, row in enumerate(rows, start=2):
        try:
            kind = kind_of(row.get("kind") or "", labels)
            known = await branches.by_code(tx, row["code"])
            if known is None:
                new = NewBranch(row["code"], row["name"], kind, row.get("district") or "")
                await add_branch(tx, actor, new, now)
                added += 1
            else:
                changed = replace(
                    known, name=row["name"], kind=kind, district=row.get("district") or ""
                )
                await branches.update(tx, changed)
                updated += 1
        except BranchError as bad:
            raise BranchError("branch.import_row", row=number, why=bad) from bad
    for number, row in enumerate(rows, start=2):
        try:
            await _link(tx, actor, row, labels, now)
        except BranchError as bad:
            raise BranchError("branch.import_row", row=number, why=bad) from bad
    await audit.record(tx, actor, "branch_import", "", now, f"added={added} updated={updated}")
    return added, updated


async def _link(
    tx: Tx, actor: str, row: dict[str, str], labels: dict[str, str], now: datetime
) -> None:
    if row.get("parent_code"):
        await edit_branch(tx, actor, row["code"], "parent", row["parent_code"], labels, now)
    for user_id in _split(row.get("secretaries") or ""):
        await appoint(tx, actor, row["code"], user_id, now)


def _split(raw: str) -> Iterable[str]:
    return (item.strip() for item in raw.replace(";", " ").split() if item.strip())


def join_link(settings: Settings, code: str) -> str | None:
    """The deep link a poster's QR code opens; None until the bot's username is known."""
    if not settings.telegram_bot_username:
        return None
    return f"https://t.me/{settings.telegram_bot_username}?start=join-{code}"


def wechat_join_link(contact_url: str, code: str) -> str:
    """The link a branch poster's QR code opens in WeChat: a chat with the bot's
    customer-service account, which joins the branch as it opens (``scene_param``)."""
    joiner = "&" if "?" in contact_url else "?"
    return f"{contact_url}{joiner}scene_param={quote(f'join-{code}')}"


def wechat_qr_file(settings: Settings, contact_url: str, branch: Branch) -> Path:
    link = wechat_join_link(contact_url, branch.code)
    return render_qr(link, settings.data_dir / "qr" / f"{branch.code}-wechat.png")


def qr_file(settings: Settings, branch: Branch) -> Path | None:
    link = join_link(settings, branch.code)
    if link is None:
        return None
    return render_qr(link, settings.data_dir / "qr" / f"{branch.code}.png")
