"""Console pages of rule management (issue 5 item 8): rules with hit counts and precision, one rule,
a draft (edit, compile errors, diff, backtest, shadow, publication), a backtest's result, the shadow
report and the publications waiting for a second person.

Pages read through :class:`mamori.rulesadmin.service.RulesAdmin` (views that name accounts - backtest
results, the shadow report - are audited there). Changes go through the JSON API ``/v1/rules/...``
from the page's forms (``console.js`` adds the CSRF token), which checks ``rules:draft`` and
``rules:approve`` on the server and enforces four eyes; the forms are shown only to roles that hold
the scope, but hiding them is a convenience, not the control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mamori.console.text import add_words
from mamori.console.web import ConsoleShell, NavItem, add_nav
from mamori.kit.errors import MamoriError, NotFound
from mamori.rulesadmin.service import RulesAdmin

add_words({
    "nav_rules": ("ルール", "Rules"),
    "rules_title": ("検知ルール", "Detection rules"),
    "rules_rule_title": ("ルール詳細", "Rule"),
    "rules_draft_title": ("ルール草案", "Rule draft"),
    "rules_backtest_title": ("バックテスト結果", "Backtest result"),
    "rules_shadow_title": ("シャドー実行", "Shadow run"),
    "rules_pubs_title": ("公開申請", "Publication requests"),
    "rules_active_set": ("有効なルールセット", "Active rule set"),
    "rules_shadow_set": ("シャドー", "Shadow"),
    "rules_hits": ("発火数", "Hits"),
    "rules_shadow_hits": ("シャドー発火数", "Shadow hits"),
    "rules_precision": ("適合率", "Precision"),
    "rules_closed_cases": ("判定済み案件", "Closed cases"),
    "rules_tp_fp": ("真陽性 / 偽陽性", "TP / FP"),
    "rules_mode": ("モード", "Mode"),
    "rules_drafts": ("草案", "Drafts"),
    "rules_edit": ("草案として編集", "Edit into a draft"),
    "rules_new_rule": ("新しいルール", "New rule"),
    "rules_text": ("ルール（YAML）", "Rule (YAML)"),
    "rules_note": ("メモ", "Note"),
    "rules_save": ("保存", "Save"),
    "rules_create": ("草案を作成", "Create draft"),
    "rules_errors": ("コンパイルエラー", "Compile errors"),
    "rules_compiles": ("コンパイル成功", "Compiles"),
    "rules_stale": ("有効なルールセットが変わりました。保存し直してください。",
                    "The active rule set changed since this was saved; save it again."),
    "rules_diff": ("有効ルールとの差分", "Difference from the active rule"),
    "rules_backtest": ("バックテスト", "Backtest"),
    "rules_since": ("開始（JST）", "From (JST)"),
    "rules_until": ("終了（JST）", "Until (JST)"),
    "rules_max_events": ("最大イベント数", "Max events"),
    "rules_run": ("実行", "Run"),
    "rules_cancel": ("中止", "Cancel"),
    "rules_progress": ("進捗", "Progress"),
    "rules_events": ("イベント", "Events"),
    "rules_changed": ("判定が変わったイベント", "Events whose verdict changed"),
    "rules_transitions": ("判定の変化", "Verdict changes"),
    "rules_from_to": ("変化", "From → to"),
    "rules_count": ("件数", "Count"),
    "rules_baseline": ("現行", "Active"),
    "rules_candidate": ("候補", "Candidate"),
    "rules_recall": ("再現率", "Recall"),
    "rules_fires": ("ルール別発火数", "Fires per rule"),
    "rules_start_shadow": ("シャドーで実行", "Run in shadow"),
    "rules_stop_shadow": ("シャドー停止", "Stop shadow"),
    "rules_running": ("実行中", "Running"),
    "rules_request_pub": ("公開を申請", "Request publication"),
    "rules_reason": ("理由", "Reason"),
    "rules_override": ("バックテストなしで公開する理由", "Reason to publish without a backtest"),
    "rules_approve": ("承認して公開", "Approve and publish"),
    "rules_reject": ("却下", "Reject"),
    "rules_rollback": ("直前のバージョンに戻す申請", "Request rollback to the previous version"),
    "rules_four_eyes": ("申請者・草案作成者とは別の担当者が承認します。",
                        "Someone other than the requester and the draft's author approves."),
    "rules_requested_by": ("申請者", "Requested by"),
    "rules_status": ("状態", "Status"),
    "rules_kind": ("種別", "Kind"),
    "rules_none": ("ありません。", "None."),
    "rules_no_shadow": ("シャドー実行中の草案はありません。草案の画面から「シャドーで実行」を選ぶと、"
                        "本番の判定に影響せず候補ルールを評価します。",
                        "No draft is running in shadow. Choose \"Run in shadow\" on a draft to evaluate it "
                        "on live traffic without affecting decisions."),
    "rules_author": ("作成者", "Author"),
    "rules_revision": ("版", "Revision"),
    "rules_account": ("口座", "Account"),
    "rules_behind": ("未集計の判定", "Decisions not yet counted"),
})
add_nav(NavItem("rules", "/console/rules", "nav_rules", "decisions:read", 70))


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and 1 <= int(value) <= 2**62 else None


def register_rules_pages(app: FastAPI, shell: ConsoleShell, get_admin: Callable[[], RulesAdmin]) -> None:
    """Add the ``/console/rules`` pages."""

    async def call(fn: Callable[[], Any]) -> tuple[Any, MamoriError | None]:
        try:
            return await run_in_threadpool(fn), None
        except MamoriError as exc:
            return None, exc

    def problem(request: Request, ctx: Any, exc: MamoriError, title_key: str) -> Response:
        return shell.render(request, ctx, "message.html", title_key=title_key, status=exc.http_status,
                            message=exc.message)

    @app.get("/console/rules", include_in_schema=False)
    async def rules_list(request: Request) -> Response:
        ctx = await shell.page(request, "decisions:read")
        listing = await run_in_threadpool(lambda: get_admin().list_rules())
        return shell.render(request, ctx, "rules_list.html", title_key="rules_title", listing=listing)

    @app.get("/console/rules/publications", include_in_schema=False)
    async def rules_publications(request: Request) -> Response:
        ctx = await shell.page(request, "decisions:read")
        pubs = await run_in_threadpool(lambda: get_admin().list_publications(100))
        return shell.render(request, ctx, "rules_publications.html", title_key="rules_pubs_title", pubs=pubs)

    @app.get("/console/rules/shadow", include_in_schema=False)
    async def rules_shadow(request: Request) -> Response:
        ctx = await shell.page(request, "rules:draft")
        status, exc = await call(lambda: get_admin().shadow_status(ctx.actor))
        if isinstance(exc, NotFound):  # no shadow run yet: an empty page, not an error
            return shell.render(request, ctx, "rules_shadow.html", title_key="rules_shadow_title", shadow=None)
        if exc is not None:
            return problem(request, ctx, exc, "rules_shadow_title")
        return shell.render(request, ctx, "rules_shadow.html", title_key="rules_shadow_title", shadow=status)

    @app.get("/console/rules/drafts/{draft_id}", include_in_schema=False)
    async def rules_draft(request: Request, draft_id: str) -> Response:
        ctx = await shell.page(request, "rules:draft")
        number = _int(draft_id)
        if number is None:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        draft, exc = await call(lambda: get_admin().get_draft(number))
        if exc is not None:
            return problem(request, ctx, exc, "rules_draft_title")
        return shell.render(request, ctx, "rules_draft.html", title_key="rules_draft_title", draft=draft)

    @app.get("/console/rules/backtests/{backtest_id}", include_in_schema=False)
    async def rules_backtest(request: Request, backtest_id: str) -> Response:
        ctx = await shell.page(request, "rules:draft")
        number = _int(backtest_id)
        if number is None:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        result, exc = await call(lambda: get_admin().get_backtest(ctx.actor, number))
        if exc is not None:
            return problem(request, ctx, exc, "rules_backtest_title")
        return shell.render(request, ctx, "rules_backtest.html", title_key="rules_backtest_title", bt=result)

    @app.get("/console/rules/{rule_id}", include_in_schema=False)
    async def rules_detail(request: Request, rule_id: str) -> Response:
        ctx = await shell.page(request, "decisions:read")
        rule, exc = await call(lambda: get_admin().rule_detail(rule_id[:64]))
        if exc is not None:
            return problem(request, ctx, exc, "rules_rule_title")
        return shell.render(request, ctx, "rules_detail.html", title_key="rules_rule_title", rule=rule)
