"""Who hears of an item: the secretaries of its branch, or of the nearest organisation above
that has any, or else the admins."""

from __future__ import annotations

from handlers.context import Context
from storage import branches


async def admin_ids(ctx: Context) -> list[str]:
    return sorted(ctx.settings.admins | await branches.appointed_admins(ctx.tx))


async def responsible(ctx: Context, branch_id: int | None) -> list[str]:
    if branch_id is not None:
        above = await branches.ancestors(ctx.tx, branch_id)
        for candidate in [branch_id, *(b.id for b in above)]:
            if people := await branches.secretaries(ctx.tx, candidate):
                return people
    return await admin_ids(ctx)
