"""Console pages of actions (issue 5 item 3): held orders and withdrawals (list, filter, propose release
or cancel) and the approvals queue (approve or reject what someone else proposed, see the webhook
delivery of executed actions, retry a failed one).

Reads go through :class:`mamori.actions.ActionsService` (the held list is audited as ``held.list``).
Changes go through the JSON API (``/v1/held/{id}/propose``, ``/v1/actions/{id}/approve|reject|retry``)
from the page's forms (``console.js`` adds the CSRF token), which checks ``actions:propose`` /
``actions:approve`` and four eyes on the server; hiding a button here is a convenience, not the control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mamori.actions import ActionsService
from mamori.console.text import add_words
from mamori.console.web import ConsoleShell, NavItem, add_nav

add_words({
    "nav_held": ("保留中の取引", "Held items"),
    "nav_actions": ("承認待ち", "Approvals"),
    "held_title": ("保留中の注文・出金", "Held orders and withdrawals"),
    "actions_title": ("対応操作と承認", "Actions and approvals"),
    "held_none": ("保留中の取引はありません。", "Nothing is held."),
    "actions_none": ("対応操作はありません。", "No actions."),
    "held_reference": ("注文・出金番号", "Order / transfer id"),
    "held_at": ("保留日時", "Held at"),
    "held_summary": ("内容", "Details"),
    "held_rules": ("発火ルール", "Rules fired"),
    "held_resolved": ("処理", "Resolution"),
    "held_propose": ("対応を提案", "Propose"),
    "held_release": ("解除（執行）", "Release"),
    "held_cancel": ("取消", "Cancel"),
    "held_four_eyes": ("解除・取消は、提案者とは別の担当者の承認後に実行されます。",
                       "A release or cancellation runs after someone other than the proposer approves it."),
    "actions_queue": ("承認待ち", "Waiting for approval"),
    "actions_recent": ("最近の対応操作", "Recent actions"),
    "actions_kind": ("操作", "Action"),
    "actions_target": ("対象", "Target"),
    "actions_reason": ("理由", "Reason"),
    "actions_proposed_by": ("提案者", "Proposed by"),
    "actions_decided_by": ("承認・却下者", "Decided by"),
    "actions_state": ("状態", "State"),
    "actions_delivery": ("貴社システムへの通知", "Sent to the firm's systems"),
    "actions_approve": ("承認", "Approve"),
    "actions_reject": ("却下", "Reject"),
    "actions_retry": ("再送", "Retry"),
    "actions_own": ("ご自身の提案は承認できません", "You cannot approve your own proposal"),
    "actions_attempts": ("回", "attempts"),
    "v_pending": ("保留中", "Pending"),
    "v_released": ("解除済み", "Released"),
    "v_cancelled": ("取消済み", "Cancelled"),
    "v_order": ("注文", "Order"),
    "v_withdrawal": ("出金", "Withdrawal"),
    "v_proposed": ("承認待ち", "Proposed"),
    "v_rejected": ("却下", "Rejected"),
    "v_approved": ("承認済み（実行中）", "Approved (running)"),
    "v_executed": ("実行済み（通知中）", "Executed (notifying)"),
    "v_done": ("完了", "Done"),
    "v_failed": ("通知失敗", "Notification failed"),
    "v_delivered": ("通知済み", "Delivered"),
    "v_gave_up": ("断念", "Gave up"),
    "v_not_configured": ("通知先未設定", "Not configured"),
    "v_not_sent": ("送信なし", "Not sent"),
})
add_nav(NavItem("held", "/console/held", "nav_held", "decisions:read", 40))
add_nav(NavItem("actions", "/console/actions", "nav_actions", "decisions:read", 45))

_STATES = ("pending", "released", "cancelled")
_KINDS = ("order", "withdrawal")


def register_actions_pages(app: FastAPI, shell: ConsoleShell, get_actions: Callable[[], ActionsService]) -> None:
    """Add ``/console/held`` and ``/console/actions``."""

    @app.get("/console/held", include_in_schema=False)
    async def held_page(request: Request, state: str = "pending", kind: str = "", account_id: str = "") -> Response:
        ctx = await shell.page(request, "decisions:read")
        filters: dict[str, Any] = {"state": state if state in _STATES else None,
                                   "kind": kind if kind in _KINDS else None,
                                   "account_id": account_id.strip()[:128] or None}

        def load() -> list[dict[str, Any]]:
            rows = get_actions().held(limit=200, **filters)
            get_actions().risk.store.audit(actor=ctx.actor, action="held.list", target="held", details={
                "filters": filters, "held_ids": [r["id"] for r in rows]})
            return rows

        rows = await run_in_threadpool(load)
        return shell.render(request, ctx, "actions_held.html", title_key="held_title", rows=rows, filters=filters,
                            states=_STATES, kinds=_KINDS)

    @app.get("/console/actions", include_in_schema=False)
    async def actions_page(request: Request) -> Response:
        ctx = await shell.page(request, "decisions:read")

        def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            service = get_actions()
            decided = [a for a in service.list(limit=100) if a["state"] != "proposed"]
            return service.list(state="proposed", limit=200), decided

        queue, recent = await run_in_threadpool(load)
        return shell.render(request, ctx, "actions_queue.html", title_key="actions_title", queue=queue,
                            recent=recent, me=ctx.actor)
