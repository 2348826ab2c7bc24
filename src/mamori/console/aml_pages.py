"""Console pages of crypto-asset AML (issue 6): the risk lists (search, import a file, the firm's closed
fraud cases, batches, removal) and screening one address, for the FSA's request that exchanges stop
transfers to scams, online casinos and mixers (金融庁「暗号資産交換業者における…送金先の確認」).
Traces and the effectiveness pages are in :mod:`mamori.console.aml_trace_pages`.

Reads go through :class:`mamori.aml.screening_service.ScreeningService` with the operator's actor (the
list search is audited as ``aml.lists.search``). Changes go through the JSON API ``/v1/aml/...`` from the
page's forms (``static/aml.js`` adds the CSRF token and sends an uploaded file as the request body),
which checks ``aml:write`` on the server; the page only shows the forms the role may use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mamori.aml.effectiveness.service import EffectivenessService
from mamori.aml.model import CATEGORY_LABELS, ListEntry, RiskCategory
from mamori.aml.reporting.service import StrService
from mamori.aml.screening_service import ScreeningService
from mamori.aml.traces import TraceService
from mamori.console.text import add_words
from mamori.console.web import ConsoleShell, NavItem, add_nav
from mamori.kit.errors import MamoriError

READ_SCOPE: Final = "aml:read"
PAGE_SIZE: Final = 100
CATEGORIES: Final = tuple(c.value for c in RiskCategory)

add_words({
    "nav_aml": ("AML", "AML"),
    "aml_tab_lists": ("リスクリスト", "Risk lists"),
    "aml_tab_screen": ("アドレス照合", "Screen an address"),
    "aml_tab_traces": ("資金追跡", "Funds traces"),
    "aml_tab_effectiveness": ("有効性検証", "Effectiveness"),
    "aml_lists_title": ("リスクリスト", "Risk lists"),
    "aml_screen_title": ("アドレスの照合", "Screen an address"),
    "aml_search": ("検索", "Search"),
    "aml_text": ("アドレス・名称", "Address or name"),
    "aml_chain": ("チェーン", "Chain"),
    "aml_category": ("分類", "Category"),
    "aml_source": ("出典", "Source"),
    "aml_kind": ("種別", "Kind"),
    "aml_any": ("すべて", "Any"),
    "aml_kind_address": ("アドレス", "Address"),
    "aml_kind_entity": ("人・団体", "Person / organisation"),
    "aml_active_only": ("有効なもののみ", "Active only"),
    "aml_entries": ("登録", "Entries"),
    "aml_address_or_name": ("アドレス / 名称", "Address / name"),
    "aml_confidence": ("確度", "Confidence"),
    "aml_expires": ("期限", "Expires"),
    "aml_reference": ("根拠", "Reference"),
    "aml_added_by": ("登録者", "Added by"),
    "aml_next_page": ("次へ", "Next"),
    "aml_none": ("該当する登録はありません。", "No entries."),
    "aml_remove": ("選択した登録を削除", "Remove the selected entries"),
    "aml_remove_reason": ("削除の理由", "Reason for removal"),
    "aml_import": ("ファイルの取込", "Import a file"),
    "aml_import_help": ("CSV・JSON・STIX 2.1。不正な行は行番号付きで報告され、残りは取り込まれます。",
                        "CSV, JSON or STIX 2.1. Bad lines are reported with their line number; the rest is "
                        "imported."),
    "aml_format": ("形式", "Format"),
    "aml_file": ("ファイル", "File"),
    "aml_default_category": ("既定の分類", "Default category"),
    "aml_import_button": ("取り込む", "Import"),
    "aml_import_cases": ("確定した不正ケースの出金先を登録", "Add destinations of confirmed fraud cases"),
    "aml_import_cases_help": ("乗っ取り確定・不正阻止で終結したケースの暗号資産出金先を、出典 mamori-cases で"
                              "登録します。",
                              "Crypto withdrawal destinations of cases closed as a confirmed takeover or a "
                              "blocked fraud attempt are added with source mamori-cases."),
    "aml_batches": ("取込履歴", "Imports"),
    "aml_added": ("追加", "Added"),
    "aml_updated": ("更新", "Updated"),
    "aml_rejected": ("除外", "Rejected"),
    "aml_line_errors": ("行エラー", "Line errors"),
    "aml_export": ("リストを出力", "Export the lists"),
    "aml_at": ("日時", "When"),
    "aml_address": ("アドレス", "Address"),
    "aml_screen_button": ("照合", "Screen"),
    "aml_screen_help": ("リスクリストと外部の帰属情報で照合します（照合は監査ログに件数のみ記録されます）。",
                        "Screens against the risk lists and attribution providers (the audit log records counts, "
                        "never the address)."),
    "aml_listed": ("該当あり", "Listed"),
    "aml_not_listed": ("該当なし", "Not listed"),
    "aml_result": ("結果", "Result"),
    "aml_hops": ("ホップ", "Hops"),
    "aml_name": ("名称", "Name"),
})
add_nav(NavItem("aml", "/console/aml", "nav_aml", READ_SCOPE, 55))


@dataclass(frozen=True, slots=True)
class AmlPorts:
    """What the AML pages read, as getters (the services exist once the application has started)."""

    reports: Callable[[], StrService]
    screening: Callable[[], ScreeningService | None]
    traces: Callable[[], TraceService]
    effectiveness: Callable[[], EffectivenessService]


def category_names(lang: str) -> dict[str, str]:
    """Risk categories in the operator's language."""
    index = 0 if lang == "ja" else 1
    return {c.value: CATEGORY_LABELS.get(c, (c.value, c.value))[index] for c in RiskCategory}


def _entry(entry: ListEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind.value, "chain": entry.chain, "address": entry.address,
            "name": entry.name, "category": entry.category.value, "source": entry.source,
            "confidence": str(entry.confidence), "reference": entry.reference, "added_by": entry.added_by,
            "expires_at": entry.expires_at.isoformat()[:10] if entry.expires_at else None}


def _text(value: str, limit: int) -> str | None:
    return value.strip()[:limit] or None


def register_aml_pages(app: FastAPI, shell: ConsoleShell, ports: AmlPorts) -> None:
    """Add the compliance pages: ``/console/aml/...`` (lists and screening here, traces and effectiveness in
    :mod:`~mamori.console.aml_trace_pages`) and ``/console/str/...`` (:mod:`~mamori.console.str_pages`)."""
    from mamori.console.aml_trace_pages import register_trace_pages
    from mamori.console.str_pages import register_str_pages

    def screening() -> ScreeningService:
        service = ports.screening()
        if service is None:
            raise MamoriError("screening is not configured")
        return service

    @app.get("/console/aml", include_in_schema=False)
    async def aml_home(request: Request) -> Response:
        await shell.page(request, READ_SCOPE)
        return RedirectResponse("/console/aml/lists", status_code=303)

    @app.get("/console/aml/lists", include_in_schema=False)
    async def aml_lists(request: Request, q: str = "", chain: str = "", category: str = "", source: str = "",
                        kind: str = "", active_only: str = "", after_id: str = "") -> Response:
        ctx = await shell.page(request, READ_SCOPE)
        filters: dict[str, Any] = {
            "text": _text(q, 128), "chain": _text(chain, 32), "category": category if category in CATEGORIES else None,
            "source": _text(source, 128), "kind": kind if kind in ("address", "entity") else None,
            "active_only": active_only == "1"}
        after = int(after_id) if after_id.isdigit() and len(after_id) < 19 else 0

        def load() -> tuple[list[ListEntry], list[dict[str, Any]]]:
            service = screening()
            found = service.search(actor=ctx.actor, limit=PAGE_SIZE, after_id=after, **filters)
            return found, service.lists.batches(limit=20)

        try:
            entries, batches = await run_in_threadpool(load)
            problem = None
        except MamoriError as exc:  # e.g. an unknown chain typed into the filter: shown, not a crash
            entries, batches, problem = [], [], exc.message
        nxt = entries[-1].id if len(entries) == PAGE_SIZE else None
        return shell.render(request, ctx, "aml_lists.html", title_key="aml_lists_title", tab="lists",
                            entries=[_entry(e) for e in entries], batches=batches, filters=filters, q=q[:128],
                            next_after_id=nxt, problem=problem, categories=category_names(ctx.lang))

    @app.get("/console/aml/screen", include_in_schema=False)
    async def aml_screen(request: Request) -> Response:
        ctx = await shell.page(request, READ_SCOPE)
        return shell.render(request, ctx, "aml_screen.html", title_key="aml_screen_title", tab="screen",
                            categories=category_names(ctx.lang))

    register_trace_pages(app, shell, ports)
    register_str_pages(app, shell, ports.reports)
