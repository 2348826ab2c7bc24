"""Console pages of suspicious transaction reports (疑わしい取引の届出, 犯罪収益移転防止法 第8条; issue 6):
reports by state, one version with its sections as JAFIC's 入力要領 orders them (届出票 / 取引時確認情報 /
口座情報 / 取引情報, then 届出理由 and the FSA reference cases), its history, and the field-level diff
between two versions.

Reads go through :class:`mamori.aml.reporting.service.StrService` with the operator's actor, so every
list, view, history and diff is in the audit log before it is shown. Changes (edit, submit, lock,
return, new version, a draft from a case) go through the JSON API ``/v1/str/...`` from the page's
forms (``static/aml.js`` adds the CSRF token), which checks ``str:write`` / ``str:approve`` and the
four-eyes rule on the server; the page only shows the buttons the role may use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from mamori.aml.reference_cases import REFERENCE_CASES
from mamori.aml.reporting.model import LABELS_JA, Filing, ReportingEntity, Subject
from mamori.aml.reporting.service import StrService
from mamori.aml.reporting.workflow import ReportState
from mamori.console.text import add_words
from mamori.console.web import ConsoleShell, NavItem, PageContext, PageForbidden, add_nav
from mamori.kit.errors import MamoriError

READ_SCOPES: Final = ("str:write", "str:approve")
STATES: Final = tuple(s.value for s in ReportState)
ENTITY_FIELDS: Final = tuple(ReportingEntity.model_fields)
FILING_FIELDS: Final = tuple(f for f in Filing.model_fields if f not in ("kind", "attachments"))
SUBJECT_FIELDS: Final = tuple(Subject.model_fields)
ACCOUNT_FIELDS: Final = ("account_id", "opened_on", "account_type", "channel", "status", "deposit_addresses")
MAX_SHOWN_TRANSACTIONS: Final = 300
PAGE_SIZE: Final = 100
MAX_OFFSET: Final = 1_000_000

add_words({
    "nav_str": ("届出（STR）", "STR"),
    "str_title": ("疑わしい取引の届出", "Suspicious transaction reports"),
    "str_report_title": ("届出（下書き）", "Report"),
    "str_diff_title": ("版の差分", "Changes between versions"),
    "str_none": ("届出はありません。", "No reports."),
    "str_all_states": ("すべての状態", "All states"),
    "str_filter": ("絞り込み", "Filter"),
    "str_reference": ("届出番号", "Reference"),
    "str_case": ("ケース", "Case"),
    "str_state": ("状態", "State"),
    "str_version": ("版", "Version"),
    "str_created": ("作成", "Created"),
    "str_updated": ("更新", "Updated"),
    "str_last_editor": ("最終編集者", "Last editor"),
    "str_submitted": ("提出", "Submitted"),
    "str_locked": ("確定（ロック）", "Locked"),
    "str_exported": ("出力", "Exported"),
    "str_section_filing": ("届出票", "Filing form (届出票)"),
    "str_section_entity": ("届出事業者", "Reporting entity"),
    "str_section_subjects": ("取引時確認情報", "Customer identification (取引時確認情報)"),
    "str_section_accounts": ("口座情報", "Accounts (口座情報)"),
    "str_section_transactions": ("取引情報", "Transactions (取引情報)"),
    "str_section_reasons": ("届出理由", "Grounds for suspicion (届出理由)"),
    "str_reason_text": ("届出理由（本文）", "Reason text"),
    "str_auto_drafted": ("自動作成の下書きです。会社の判断で書き直してください。",
                         "Drafted by mamori: rewrite it with the firm's judgement."),
    "str_reference_cases": ("該当する参考事例", "Reference cases (FSA)"),
    "str_rule_ids": ("発火したルール", "Rules fired"),
    "str_edit_json": ("JSON で編集", "Edit as JSON"),
    "str_edit_json_help": ("この項目全体を置き換えます。不正な項目は番号付きで示されます。",
                           "Replaces the whole section; a bad field is named by its path."),
    "str_save": ("保存", "Save"),
    "str_kyc_import": ("取引時確認情報の取込", "Import the KYC export"),
    "str_kyc_help": ("貴社の KYC エクスポート（JSON）から、この届出の顧客の項目のみを取り込みます。",
                     "Fills the items of this report's customers from the firm's KYC export (JSON); other "
                     "customers are skipped."),
    "str_kyc_file": ("ファイル（JSON）", "File (JSON)"),
    "str_kyc_button": ("取り込む", "Import"),
    "str_submit": ("コンプライアンスへ提出", "Submit to compliance"),
    "str_lock": ("確定（ロック）", "Lock"),
    "str_return": ("差し戻す", "Return to draft"),
    "str_return_reason": ("差し戻しの理由", "Reason for returning it"),
    "str_new_version": ("新しい版を作成", "Start a new version"),
    "str_exports": ("出力", "Exports"),
    "str_export_xlsx": ("入力用シート（Excel）", "Entry sheet (Excel)"),
    "str_export_csv": ("取引 CSV（UTF-8）", "Transactions CSV (UTF-8)"),
    "str_export_csv_sjis": ("取引 CSV（Shift_JIS）", "Transactions CSV (Shift_JIS)"),
    "str_export_json": ("JSON", "JSON"),
    "str_export_note": ("確定前の出力には「下書き / DRAFT」の透かしが入ります。確定版の出力は記録されます。",
                        "Before locking, exports are watermarked 下書き / DRAFT; exporting a locked version is "
                        "recorded and marks it exported."),
    "str_four_eyes": ("確定（ロック）は、最終編集者とは別のコンプライアンス担当者が行います。",
                      "A compliance officer other than the last editor locks the report."),
    "str_you_edited": ("あなたはこの版の最終編集者のため、確定できません。別の担当者に依頼してください。",
                       "You edited this version last, so you cannot lock it: ask another compliance officer."),
    "str_locked_note": ("確定済みの版は変更できません。変更するには新しい版を作成します。",
                        "A locked version never changes: start a new version to change it."),
    "str_versions": ("版と履歴", "Versions and history"),
    "str_diff_prev": ("前の版との差分", "Changes from the previous version"),
    "str_field": ("項目", "Field"),
    "str_before": ("変更前", "Before"),
    "str_after": ("変更後", "After"),
    "str_no_changes": ("変更はありません。", "No changes."),
    "str_at": ("日時", "When"),
    "str_actor": ("担当者", "Who"),
    "str_action": ("操作", "Action"),
    "str_create_from_case": ("疑わしい取引の届出を作成", "Create STR draft"),
    "str_case_reports": ("このケースの届出", "Reports of this case"),
    "str_shown_first": ("先頭の行のみ表示しています", "Only the first rows are shown"),
    "str_next_page": ("次へ", "Next"),
    "str_kind": ("種別", "Kind"),
    "str_value": ("値", "Value"),
    "str_category": ("分類", "Category"),
    "str_err_four_eyes": ("四つの目の原則により拒否されました：最終編集者は確定できません。",
                          "Refused by the four-eyes rule: the last editor cannot lock the report."),
    "str_err_locked": ("確定済みの版は変更できません。", "This version is locked and cannot change."),
    "str_err_conflict": ("現在の状態ではこの操作はできません。", "Not possible in the report's current state."),
    "v_draft": ("下書き", "Draft"),
    "v_submitted": ("提出済み（確認待ち）", "Submitted"),
    "v_locked": ("確定", "Locked"),
    "v_exported": ("出力済み", "Exported"),
    **{f"str_f_{name}": pair for name, pair in {
        "name": ("事業者名", "Name"), "representative": ("代表者", "Representative"),
        "head_office_postal_code": ("本店郵便番号", "Head office postal code"),
        "head_office_address": ("本店所在地", "Head office address"),
        "person_in_charge": ("担当者", "Person in charge"), "department": ("部署", "Department"),
        "branch": ("支店", "Branch"), "title": ("役職", "Title"),
        "branch_postal_code": ("支店郵便番号", "Branch postal code"),
        "branch_address": ("支店所在地", "Branch address"),
        "phone": ("電話番号", "Phone"), "extension": ("内線", "Extension"),
        "filed_on": ("届出日", "Filed on"), "number_year": ("届出番号（年）", "Number (year)"),
        "number": ("届出番号", "Number"), "kind": ("届出区分", "Kind of filing"),
        "related_number": ("関連届出番号", "Related filing number"),
        "occurred_from": ("発生期間（自）", "Occurred from"), "occurred_to": ("発生期間（至）", "Occurred to"),
        "place": ("発生場所", "Place"), "business_line": ("業務", "Business line"),
        "property": ("対象財産", "Property"), "attachments": ("添付資料", "Attachments"),
    }.items()},
    "v_new": ("新規", "New"), "v_additional": ("追加", "Additional"), "v_related": ("関連", "Related"),
    **{f"str_s_{name}": pair for name, pair in {  # 取引時確認情報 (施行令 第16条2項)
        "kind": ("個人・法人", "Individual / corporation"), "account_ids": ("顧客番号", "Customer numbers"),
        "name_kanji": ("氏名・名称（漢字）", "Name (kanji)"), "name_kana": ("氏名・名称（カナ）", "Name (kana)"),
        "name_latin": ("氏名・名称（ローマ字）", "Name (Latin)"), "birth_date": ("生年月日", "Date of birth"),
        "gender": ("性別", "Gender"), "postal_code": ("郵便番号", "Postal code"),
        "address": ("住所・所在地", "Address"),
        "nationality": ("国籍", "Nationality"), "occupation": ("職業・事業内容", "Occupation / business"),
        "purpose": ("取引を行う目的", "Purpose of the transactions"), "verified_on": ("確認日", "Verified on"),
        "verification_method": ("確認方法", "Verification method"),
        "id_document_type": ("本人確認書類", "Identity document"),
        "id_document_number": ("書類の番号", "Document number"), "phone": ("電話番号", "Phone"),
        "email": ("メールアドレス", "E-mail"), "foreign_pep": ("外国PEPs", "Foreign PEP"),
        "beneficial_owner": ("実質的支配者", "Beneficial owner"),
    }.items()},
    **{f"str_a_{name}": pair for name, pair in {  # 口座情報
        "account_id": ("顧客番号", "Customer number"), "opened_on": ("開設日", "Opened on"),
        "account_type": ("口座種別", "Account type"), "channel": ("開設経路", "Opened"),
        "status": ("口座の状態", "Status"), "deposit_addresses": ("入庫アドレス", "Deposit addresses"),
    }.items()},
    **{f"str_x_{name}": pair for name, pair in {  # 取引情報
        "at": ("取引日時", "When"), "kind": ("取引種別", "Kind"), "account_id": ("顧客番号", "Customer"),
        "amount": ("金額", "Amount"), "amount_jpy": ("円換算額", "Yen value"),
        "asset": ("暗号資産・数量", "Asset / quantity"), "chain": ("チェーン・移転先・トランザクション",
                                                           "Chain · destination · transaction"),
        "ip": ("IPアドレス・経路", "IP address · channel"), "rule_ids": ("発火ルール", "Rules fired"),
        "note": ("摘要", "Note"),
    }.items()},
})
add_nav(NavItem("str", "/console/str", "nav_str", "str:write", 50))


def code_labeller(lang: str) -> Callable[[Any], str]:
    """The filing program's Japanese word for a code (``non_face_to_face`` → 非対面); the code itself in English."""
    def label(code: Any) -> str:
        if code is None or code == "":
            return "—"
        text = str(code)
        return LABELS_JA.get(text, text) if lang == "ja" else text.replace("_", " ")

    return label


def json_lines(rows: list[Any]) -> Markup:
    """A list as JSON with one compact item per line, for a textarea: only ``& < >`` are escaped (quotes may
    stay as they are in element text), which keeps a 2,000-transaction report's page small."""
    text = "[]" if not rows else "[\n" + ",\n".join(orjson.dumps(row).decode() for row in rows) + "\n]"
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))  # noqa: S704


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and 1 <= int(value) <= 2**62 else None


def register_str_pages(app: FastAPI, shell: ConsoleShell, get_service: Callable[[], StrService]) -> None:
    """Add ``/console/str``, ``/console/str/{id}`` and ``/console/str/{id}/diff``."""

    async def reader(request: Request) -> PageContext:
        ctx = await shell.page(request, None)
        if not any(ctx.can(s) for s in READ_SCOPES):
            raise PageForbidden(ctx, " | ".join(READ_SCOPES))
        return ctx

    async def call(fn: Callable[[], Any]) -> tuple[Any, MamoriError | None]:
        try:
            return await run_in_threadpool(fn), None
        except MamoriError as exc:
            return None, exc

    def problem(request: Request, ctx: PageContext, exc: MamoriError, title_key: str) -> Response:
        return shell.render(request, ctx, "message.html", title_key=title_key, status=exc.http_status,
                            message=exc.message)

    @app.get("/console/str", include_in_schema=False)
    async def str_list(request: Request, state: str = "", case_id: str = "", offset: str = "") -> Response:
        ctx = await reader(request)
        chosen = ReportState(state) if state in STATES else None
        case = _id(case_id)
        start = int(offset) if offset.isdigit() and int(offset) <= MAX_OFFSET else 0
        listing = await run_in_threadpool(lambda: get_service().list_reports(ctx.actor, case_id=case, state=chosen,
                                                                             limit=PAGE_SIZE, offset=start))
        return shell.render(request, ctx, "str_list.html", title_key="str_title", listing=listing, states=STATES,
                            state=chosen.value if chosen else "", case_id=case)

    @app.get("/console/str/{report_id}", include_in_schema=False)
    async def str_report(request: Request, report_id: str) -> Response:
        ctx = await reader(request)
        number = _id(report_id)
        if number is None:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)

        def load() -> tuple[dict[str, Any], dict[str, Any]]:
            service = get_service()
            return service.view(ctx.actor, number), service.versions(ctx.actor, number)

        found, exc = await call(load)
        if exc is not None:
            return problem(request, ctx, exc, "str_report_title")
        report, versions = found
        transactions = report["document"]["transactions"]
        return shell.render(request, ctx, "str_report.html", title_key="str_report_title", report=report,
                            doc=report["document"], versions=versions, me=ctx.actor,
                            entity_fields=ENTITY_FIELDS, filing_fields=FILING_FIELDS, subject_fields=SUBJECT_FIELDS,
                            account_fields=ACCOUNT_FIELDS, code=code_labeller(ctx.lang),
                            filing_kinds=("new", "additional", "related"),
                            shown_transactions=transactions[:MAX_SHOWN_TRANSACTIONS],
                            json_sections={k: json_lines(report["document"][k])
                                           for k in ("subjects", "accounts", "transactions")},
                            reference_titles={c.id: c.title_ja if ctx.lang == "ja" else c.title_en
                                              for c in REFERENCE_CASES},
                            editable=report["state"] in ("draft", "submitted"))

    @app.get("/console/str/{report_id}/diff", include_in_schema=False)
    async def str_diff(request: Request, report_id: str, against: str = "") -> Response:
        ctx = await reader(request)
        number = _id(report_id)
        other = _id(against) if against else None
        if number is None or (against and other is None):
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        changes, exc = await call(lambda: get_service().diff(ctx.actor, number, other))
        if exc is not None:
            return problem(request, ctx, exc, "str_diff_title")
        return shell.render(request, ctx, "str_diff.html", title_key="str_diff_title", diff=changes)
