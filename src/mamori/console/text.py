"""Words of the console, Japanese and English side by side: ``"key": ("日本語", "English")``.

Every string the pages and their script show comes from here, so both languages always exist (a
test checks that no value is empty). A page module adds its own words with :func:`add_words`.
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("ja", "en")
LANG_COOKIE: Final = "mamori_console_lang"

WORDS: dict[str, tuple[str, str]] = {
    "brand": ("mamori コンソール", "mamori console"),
    "lang_switch": ("English", "日本語"),
    "signed_in_as": ("ログイン中", "Signed in as"),
    "logout": ("ログアウト", "Sign out"),
    "skip": ("本文へ移動", "Skip to content"),
    # navigation
    "nav_dashboard": ("ダッシュボード", "Dashboard"),
    "nav_cases": ("ケース", "Cases"),
    "nav_account": ("口座調査", "Account investigation"),
    "nav_reports": ("月次報告", "Monthly reports"),
    "nav_audit": ("監査ログ", "Audit log"),
    "nav_operators": ("オペレーター", "Operators"),
    # login / enrolment
    "login_title": ("コンソールにログイン", "Sign in to the console"),
    "login_lead": ("登録済みのパスキーでログインしてください。", "Sign in with your registered passkey."),
    "login_id": ("ログインID", "Login id"),
    "login_button": ("パスキーでログイン", "Sign in with a passkey"),
    "enrol_link": ("初めての方（登録コードをお持ちの方）", "First time here? Enrol with your code"),
    "enrol_title": ("パスキーの登録", "Enrol a passkey"),
    "enrol_lead": ("管理者から受け取った一回限りの登録コードを入力し、この端末にパスキーを登録します。",
                   "Enter the one-time enrolment code your administrator gave you, then register a passkey "
                   "on this device."),
    "enrol_code": ("登録コード", "Enrolment code"),
    "passkey_name": ("パスキーの名前（例: 業務PC）", "Passkey name (e.g. work laptop)"),
    "enrol_button": ("パスキーを登録", "Register the passkey"),
    "enrolled": ("登録しました。パスキーでログインしてください。", "Enrolled. Now sign in with your passkey."),
    "working": ("処理中です…", "Working…"),
    "error_generic": ("処理できませんでした。", "That did not work."),
    "error_passkey": ("パスキーで確認できませんでした。", "The passkey could not be verified."),
    "error_csrf": ("画面が古くなっています。再読み込みしてください。", "This page is stale; reload it."),
    "error_forbidden": ("この操作の権限がありません。", "Your role does not allow this."),
    "error_session": ("セッションが終了しました。再度ログインしてください。", "Your session ended; sign in again."),
    "forbidden_title": ("権限がありません", "Not allowed"),
    "forbidden_lead": ("このページはあなたのロールでは表示できません。", "Your role cannot open this page."),
    "not_found_title": ("見つかりません", "Not found"),
    "saved": ("保存しました。", "Saved."),
    # dashboard
    "dashboard_title": ("ダッシュボード", "Dashboard"),
    "window_last_hour": ("直近1時間", "Last hour"),
    "window_last_24h": ("直近24時間", "Last 24 hours"),
    "window_today_jst": ("本日（JST）", "Today (JST)"),
    "c_login_attempts": ("ログイン試行", "Login attempts"),
    "c_challenges": ("追加認証", "Challenges"),
    "c_login_blocks": ("ログイン拒否", "Login blocks"),
    "c_lockouts": ("ロック", "Lockouts"),
    "c_held_orders": ("保留注文", "Held orders"),
    "c_held_withdrawals": ("保留出金", "Held withdrawals"),
    "c_alerts": ("アラート", "Alerts"),
    "c_freezes": ("凍結", "Freezes"),
    "cases_by_state": ("状態別ケース", "Cases by state"),
    "overdue_contacts": ("連絡期限超過", "Overdue contacts"),
    "contacts_due_soon": ("連絡期限間近", "Contacts due soon"),
    "as_of": ("時点", "as of"),
    # cases
    "cases_title": ("ケース一覧", "Cases"),
    "filter": ("絞り込み", "Filter"),
    "all": ("すべて", "All"),
    "state": ("状態", "State"),
    "kind": ("種別", "Kind"),
    "assignee": ("担当者", "Assignee"),
    "sla": ("連絡SLA", "Contact SLA"),
    "priority": ("優先度", "Priority"),
    "due": ("期限", "Due"),
    "alerts": ("アラート", "Alerts"),
    "accounts": ("口座", "Accounts"),
    "title": ("件名", "Title"),
    "reference": ("参照番号", "Reference"),
    "overdue": ("期限超過", "Overdue"),
    "no_cases": ("該当するケースはありません。", "No cases match."),
    "bulk_title": ("一括操作（選択したケース）", "Bulk action (selected cases)"),
    "bulk_assign": ("担当者を設定", "Assign to"),
    "bulk_comment": ("コメントを追加", "Add a comment"),
    "apply": ("実行", "Apply"),
    "refresh_cases": ("新しいアラートを取り込む", "File new alerts now"),
    "next_page": ("次へ", "Next"),
    "total": ("件", "total"),
    # case detail
    "case_title": ("ケース", "Case"),
    "disposition": ("判定", "Disposition"),
    "reason": ("理由", "Reason"),
    "change_state": ("状態を変更", "Change state"),
    "next_contact_due": ("次回連絡期限", "Next contact due"),
    "assign": ("担当者を設定", "Assign"),
    "set_priority": ("優先度を設定", "Set priority"),
    "set_due": ("期限を設定", "Set due date"),
    "fired_rules": ("発火ルール", "Fired rules"),
    "feature_values": ("特徴量", "Feature values"),
    "event": ("イベント", "Event"),
    "decision": ("判定", "Decision"),
    "score": ("スコア", "Score"),
    "time_jst": ("日時（JST）", "Time (JST)"),
    "comments": ("コメント", "Comments"),
    "add_comment": ("コメントを追加", "Add comment"),
    "attachments": ("添付ファイル", "Attachments"),
    "upload": ("アップロード", "Upload"),
    "download": ("ダウンロード", "Download"),
    "contacts": ("お客様への連絡記録", "Victim contact log"),
    "channel": ("手段", "Channel"),
    "summary": ("内容", "Summary"),
    "log_contact": ("連絡を記録", "Log contact"),
    "compensation": ("被害額・補償", "Damage and compensation"),
    "damage_yen": ("被害額（円）", "Damage (yen)"),
    "sells_yen": ("不正売却（円）", "Unauthorised sells (yen)"),
    "buys_yen": ("不正買付（円）", "Unauthorised buys (yen)"),
    "status": ("状況", "Status"),
    "notes": ("メモ", "Notes"),
    "save": ("保存", "Save"),
    "letter": ("お客様への文書（リンクなし）", "Letter to the customer (no links)"),
    "history": ("履歴", "History"),
    "related_cases": ("関連ケース", "Related cases"),
    "open_timeline": ("タイムラインを開く", "Open the timeline"),
    "sla_red": ("連絡期限超過", "Contact overdue"),
    "sla_amber": ("連絡期限間近", "Contact due soon"),
    "sla_green": ("期限内", "On time"),
    "sla_none": ("―", "—"),
    "period": ("期間（UTC）", "Period (UTC)"),
    # case states, dispositions, kinds (labels for the stored codes)
    "v_open": ("未着手", "Open"),
    "v_investigating": ("調査中", "Investigating"),
    "v_waiting_customer": ("顧客回答待ち", "Waiting for customer"),
    "v_escalated": ("エスカレーション", "Escalated"),
    "v_closed": ("完了", "Closed"),
    "v_confirmed_takeover": ("乗っ取り確定", "Confirmed takeover"),
    "v_fraud_attempt_blocked": ("不正未遂（阻止）", "Fraud attempt blocked"),
    "v_legitimate": ("正当な取引", "Legitimate"),
    "v_duplicate": ("重複", "Duplicate"),
    "v_account": ("口座", "Account"),
    "v_campaign": ("キャンペーン", "Campaign"),
    "v_counterparty": ("送金先", "Counterparty"),
    "v_phone": ("電話", "Phone"),
    "v_email": ("メール", "E-mail"),
    "v_letter": ("郵送", "Letter"),
    "v_in_person": ("対面", "In person"),
    "v_app": ("アプリ", "App"),
    "v_none": ("なし", "None"),
    "v_assessing": ("査定中", "Assessing"),
    "v_offered": ("提示済み", "Offered"),
    "v_agreed": ("合意", "Agreed"),
    "v_paid": ("支払済み", "Paid"),
    "v_declined": ("辞退", "Declined"),
    # account
    "account_title": ("口座調査", "Account investigation"),
    "account_id": ("口座ID", "Account id"),
    "open": ("開く", "Open"),
    "timeline": ("タイムライン", "Timeline"),
    "overview": ("概要", "Overview"),
    "linked_accounts": ("関連口座", "Linked accounts"),
    "devices": ("端末", "Devices"),
    "networks": ("ネットワーク", "Networks"),
    "destinations": ("送金先", "Destinations"),
    "shared": ("共有", "Shared"),
    "links_behind": ("最新のイベントを索引に反映中です。数分後に再表示してください。",
                     "The newest events are still being indexed; reload in a few minutes."),
    "no_events": ("イベントはありません。", "No events."),
    "older": ("さらに表示", "More"),
    # reports
    "reports_title": ("月次報告", "Monthly reports"),
    "from_month": ("開始月", "From"),
    "to_month": ("終了月", "To"),
    "show": ("表示", "Show"),
    "download_csv": ("CSV", "CSV"),
    "download_xlsx": ("Excel", "Excel"),
    "month": ("月", "Month"),
    "chart_title": ("不正アクセス・不正取引の推移", "Unauthorised access and trading by month"),
    # audit
    "audit_title": ("監査ログ", "Audit log"),
    "actor": ("実行者", "Actor"),
    "action": ("操作", "Action"),
    "target": ("対象", "Target"),
    "details": ("詳細", "Details"),
    "verify_chain": ("ハッシュチェーンを検証", "Verify the hash chain"),
    "chain_ok": ("改ざんは検出されませんでした", "Chain intact"),
    "chain_broken": ("改ざんを検出しました", "Tampering detected"),
    "records": ("件", "records"),
    "export_csv": ("CSVで出力", "Export CSV"),
    "export_jsonl": ("JSONLで出力", "Export JSONL"),
    # operators
    "operators_title": ("オペレーター管理", "Operators"),
    "name": ("氏名", "Name"),
    "role": ("ロール", "Role"),
    "passkeys": ("パスキー", "Passkeys"),
    "active": ("有効", "Active"),
    "disabled": ("無効", "Disabled"),
    "create_operator": ("オペレーターを追加", "Add an operator"),
    "create": ("作成", "Create"),
    "disable": ("無効化", "Disable"),
    "enable": ("有効化", "Enable"),
    "reset": ("パスキー再登録", "Reset passkeys"),
    "change_role": ("ロール変更", "Change role"),
    "code_once": ("登録コード（一度だけ表示）", "Enrolment code (shown once)"),
    "roles_table": ("ロールと権限", "Roles and permissions"),
    "scopes": ("権限", "Scopes"),
    "confirm": ("よろしいですか？", "Are you sure?"),
}


def add_words(words: dict[str, tuple[str, str]]) -> None:
    """Add a page module's words (a key may not be defined twice with other text)."""
    for key, pair in words.items():
        if key in WORDS and WORDS[key] != pair:
            raise ValueError(f"console word {key!r} is already defined")
        WORDS[key] = pair


def words(lang: str) -> dict[str, str]:
    index = 0 if lang == "ja" else 1
    return {key: pair[index] for key, pair in WORDS.items()}


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The remembered choice (cookie) first, then the browser's preference, Japanese by default."""
    if cookie in LANGS:
        return str(cookie)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "ja"
