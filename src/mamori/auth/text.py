"""Words of the customer pages, in Japanese (default) and English.

The pages and their script take every string from here (the script reads them from ``data-``
attributes), so a translation is one place to change."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "lang_switch": "English", "lang_other": "en",
        "login_title": "ログイン",
        "login_lead": "パスキーでログインしてください。"
                      "パスキーは偽サイトでは使えないため、フィッシング詐欺を防ぎます。",
        "login_id": "ログインID",
        "passkey_button": "パスキーでログイン",
        "password_heading": "パスワードでログイン（移行期間中のお客様）",
        "password": "パスワード",
        "password_button": "ログイン",
        "totp_label": "認証アプリの6桁のコード",
        "totp_button": "確認",
        "passkey_step": "続けて、登録済みのパスキーで本人確認をしてください。",
        "working": "処理中です…",
        "error_generic": "ログインできませんでした。入力内容をご確認ください。",
        "error_passkey": "パスキーで確認できませんでした。もう一度お試しください。",
        "error_throttled": "お使いのネットワークからの失敗が多いため、しばらくお待ちください。",
        "error_passkey_required": "このお客様はパスキーでのログインが必要です。",
        "no_links_notice": "当社がメールやSMSでログインページへのリンクを送ることはありません。"
                           "ブックマークまたは公式アプリからアクセスしてください。",
        "recover_link": "パスキーを紛失した場合",
        "recover_title": "アカウントの回復",
        "recover_lead": "サポート窓口で本人確認を受け、電話・郵送・店頭で受け取った回復コードを入力してください。"
                        "回復コードがメールのリンクで届くことはありません。",
        "recover_code": "回復コード",
        "recover_button": "回復する",
        "account_title": "アカウントのセキュリティ",
        "passkeys_heading": "パスキー",
        "no_passkeys": "パスキーが登録されていません。今すぐ登録してください。",
        "passkey_name": "パスキーの名前",
        "add_passkey": "パスキーを登録",
        "rename": "名前を変更",
        "remove": "削除",
        "created": "登録日時",
        "last_used": "最終利用",
        "synced": "同期パスキー",
        "device_bound": "端末内パスキー",
        "sessions_heading": "ログイン中のセッション",
        "this_session": "この端末",
        "end_session": "ログアウトさせる",
        "logout": "ログアウト",
        "enrol_only": "回復のため、新しいパスキーを登録してください。登録後はそのパスキーでログインし直します。",
        "stepup_title": "操作の確認",
        "stepup_lead": "次の操作を承認する場合は、パスキーで確認してください。内容が違う場合は承認しないでください。",
        "stepup_button": "パスキーで承認",
        "stepup_done": "承認しました。元の画面に戻って操作を完了してください。",
        "stepup_unknown": "この確認は無効です（期限切れ・使用済み・別のお客様のもの）。",
        "op_withdrawal": "出金", "op_withdrawal_account_change": "出金先口座の変更",
        "op_email_change": "メールアドレスの変更", "op_phone_change": "電話番号の変更",
        "op_mfa_change": "認証手段の変更", "op_passkey_remove": "パスキーの削除", "op_order": "注文",
        "field_amount": "金額", "field_currency": "通貨", "field_destination": "送付先",
        "field_new_value": "新しい値", "field_credential_id": "パスキー", "field_symbol": "銘柄",
        "field_side": "売買", "field_quantity": "数量", "field_price": "価格", "field_asset": "資産",
        "field_chain": "チェーン",
        "confirm_remove": "このパスキーを削除するには、別のパスキーでの確認が必要です。",
        "unsupported": "このブラウザはパスキーに対応していません。最新のブラウザをご利用ください。",
    },
    "en": {
        "lang_switch": "日本語", "lang_other": "ja",
        "login_title": "Sign in",
        "login_lead": "Sign in with your passkey. A passkey does not work on a fake site, so it protects you "
                      "from phishing.",
        "login_id": "Login ID",
        "passkey_button": "Sign in with a passkey",
        "password_heading": "Sign in with a password (customers in transition)",
        "password": "Password",
        "password_button": "Sign in",
        "totp_label": "6-digit code from your authenticator app",
        "totp_button": "Verify",
        "passkey_step": "Now confirm with one of your passkeys.",
        "working": "Working…",
        "error_generic": "We could not sign you in. Please check what you entered.",
        "error_passkey": "The passkey could not be verified. Please try again.",
        "error_throttled": "Too many failed attempts from your network. Please wait a while.",
        "error_passkey_required": "Your account requires signing in with a passkey.",
        "no_links_notice": "We never send links to a sign-in page by e-mail or SMS. Use your bookmark or our "
                           "official app.",
        "recover_link": "Lost your passkey?",
        "recover_title": "Account recovery",
        "recover_lead": "After the support desk has verified your identity, enter the recovery code you received "
                        "by phone, post or at a branch. A recovery code never arrives as a link in an e-mail.",
        "recover_code": "Recovery code",
        "recover_button": "Recover",
        "account_title": "Account security",
        "passkeys_heading": "Passkeys",
        "no_passkeys": "You have no passkey yet. Please register one now.",
        "passkey_name": "Passkey name",
        "add_passkey": "Register a passkey",
        "rename": "Rename",
        "remove": "Remove",
        "created": "Registered",
        "last_used": "Last used",
        "synced": "Synced passkey",
        "device_bound": "Device-bound passkey",
        "sessions_heading": "Signed-in sessions",
        "this_session": "This device",
        "end_session": "Sign out",
        "logout": "Sign out",
        "enrol_only": "To recover your account, register a new passkey. Then sign in again with it.",
        "stepup_title": "Confirm the operation",
        "stepup_lead": "To approve the operation below, confirm with your passkey. Do not approve it if anything "
                       "differs from what you did.",
        "stepup_button": "Approve with passkey",
        "stepup_done": "Approved. Return to the previous screen to complete the operation.",
        "stepup_unknown": "This confirmation is not valid (expired, used, or for another customer).",
        "op_withdrawal": "Withdrawal", "op_withdrawal_account_change": "Change of withdrawal account",
        "op_email_change": "Change of e-mail address", "op_phone_change": "Change of phone number",
        "op_mfa_change": "Change of authentication method", "op_passkey_remove": "Removal of a passkey",
        "op_order": "Order",
        "field_amount": "Amount", "field_currency": "Currency", "field_destination": "Destination",
        "field_new_value": "New value", "field_credential_id": "Passkey", "field_symbol": "Symbol",
        "field_side": "Side", "field_quantity": "Quantity", "field_price": "Price", "field_asset": "Asset",
        "field_chain": "Chain",
        "confirm_remove": "Removing this passkey needs a confirmation with another passkey.",
        "unsupported": "This browser does not support passkeys. Please use an up-to-date browser.",
    },
}


def choose_language(explicit: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the browser's preference, Japanese by default."""
    if explicit in TEXT:
        return explicit
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "ja"
