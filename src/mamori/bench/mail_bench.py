"""``mamori bench mail``: the message scanner on a generated corpus, side by side with ClamAV.

The corpus (deterministic from a seed) is written as ``.eml`` files: Japanese and English business
mail, a third with links, a quarter with ordinary attachments (PDF, spreadsheets in ZIP, images),
about one in ten with a password-protected attachment (ZipCrypto and AES ZIP, 7z with and without
encrypted names, a PDF with a user password) and a few nested ones. The encrypted samples are made
with the real tools (Debian ``zip``, ``7z``, ``qpdf``). mamori scans the files with one process per
core; ClamAV's ``clamscan --alert-encrypted=yes`` scans the same directory (a one-signature database,
since no signature download is possible here: its encrypted-archive heuristics need none).

Last line: ``mail messages_per_s=<n> mb_per_s=<m>`` (mamori); the line before it, ClamAV's figures
and both detection rates on the encrypted messages.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import subprocess
import tempfile
import time
import zipfile
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from typing import Any

FIRM = "example-sec.co.jp"
BODIES_JA = ["いつもお世話になっております。ご依頼の資料をお送りいたします。",
             "会議の議事録を共有します。ご確認ください。",
             "来週の打ち合わせの件、日程の候補をお知らせします。", "月次の取引報告書を添付いたします。"]
BODIES_EN = ["Please find the quarterly figures attached.", "Minutes of today's meeting are below.",
             "Could we move the call to Thursday?", "The settlement report for November is attached."]
LINKS = ["詳細は https://www.example-sec.co.jp/news をご覧ください。", "See example-sec.co.jp/ir for the report.",
         "資料: hxxps://files.example[.]com/x"]


def _run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,  # noqa: S603 (fixed tool arguments)
                   stderr=subprocess.DEVNULL)


def _minimal_pdf(rng: random.Random, pages: int) -> bytes:
    text = " ".join(rng.choice(["取引", "報告", "残高", "report", "balance", "2026"]) for _ in range(400))
    stream = f"BT /F1 12 Tf 72 720 Td ({text.encode('ascii', 'ignore').decode()}) Tj ET".encode() * pages
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _samples(work: Path, rng: random.Random) -> dict[str, list[tuple[str, bytes]]]:
    """Encrypted and plain attachment templates, made once."""
    missing = [t for t in ("zip", "7z", "qpdf") if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"the mail benchmark builds its samples with {', '.join(missing)}: run scripts/system-deps")
    (work / "data.csv").write_text("\n".join(f"{i},{rng.randrange(10**6)},口座{i}" for i in range(20000)),
                                   encoding="utf-8")
    pdf = _minimal_pdf(rng, 40)
    (work / "report.pdf").write_bytes(pdf)
    _run(["zip", "-q", "-P", "pw2026", "zipcrypto.zip", "data.csv"], work)
    _run(["7z", "a", "-tzip", "-mem=AES256", "-ppw2026", "aes.zip", "data.csv"], work)
    _run(["7z", "a", "-ppw2026", "plain-names.7z", "data.csv"], work)
    _run(["7z", "a", "-ppw2026", "-mhe=on", "hidden-names.7z", "data.csv"], work)
    _run(["qpdf", "--encrypt", "userpw", "ownerpw", "256", "--", "report.pdf", "locked.pdf"], work)
    _run(["zip", "-q", "plain.zip", "data.csv"], work)
    nested = BytesIO()
    with zipfile.ZipFile(nested, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/zipcrypto.zip", (work / "zipcrypto.zip").read_bytes())
    png = BytesIO()
    try:
        from PIL import Image

        Image.new("RGB", (400, 300), (rng.randrange(256), 120, 80)).save(png, "PNG")
    except ImportError:  # pragma: no cover - Pillow is a runtime dependency
        png.write(b"")
    def read(name: str) -> bytes:
        return (work / name).read_bytes()

    return {
        "encrypted": [("明細.zip", read("zipcrypto.zip")), ("statement.zip", read("aes.zip")),
                      ("資料.7z", read("plain-names.7z")), ("archive.7z", read("hidden-names.7z")),
                      ("契約書.pdf", read("locked.pdf")), ("bundle.zip", nested.getvalue())],
        "plain": [("report.pdf", pdf), ("data.zip", read("plain.zip")), ("chart.png", png.getvalue())],
    }


def build_corpus(out: Path, n_messages: int, *, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        samples = _samples(Path(tmp), rng)
    encrypted_ids = []
    total = 0
    for i in range(n_messages):
        msg = EmailMessage()
        msg["From"] = f"staff{i % 40}@{FIRM}"
        msg["To"] = rng.choice(["yamada@partner-bank.co.jp", "taro@gmail.com", "ops@custodian.example"])
        msg["Subject"] = rng.choice(["ご案内", "資料送付", "Report", "議事録"]) + f" #{i}"
        body = rng.choice(BODIES_JA + BODIES_EN)
        if rng.random() < 0.33:
            body += "\n" + rng.choice(LINKS)
        msg.set_content(body)
        roll = rng.random()
        if roll < 0.10:
            name, data = rng.choice(samples["encrypted"])
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
            encrypted_ids.append(i)
        elif roll < 0.35:
            name, data = rng.choice(samples["plain"])
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        raw = bytes(msg)
        total += len(raw)
        (out / f"m{i:05d}.eml").write_bytes(raw)
    return {"messages": n_messages, "bytes": total, "encrypted": encrypted_ids}


def _scan_files(paths: list[str]) -> list[tuple[str, bool]]:
    from mamori.mail.message import scan_message

    return [(p, scan_message(Path(p).read_bytes()).has_encrypted_attachment) for p in paths]


def run_mamori(corpus: Path, workers: int) -> tuple[float, set[int]]:
    files = sorted(str(p) for p in corpus.glob("*.eml"))
    chunks = [files[i::workers] for i in range(workers)]
    start = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        results = [r for part in pool.map(_scan_files, chunks) for r in part]
    elapsed = time.perf_counter() - start
    return elapsed, {int(Path(p).stem[1:]) for p, flagged in results if flagged}


def run_clamav(corpus: Path) -> tuple[float, set[int]] | None:
    clamscan = shutil.which("clamscan")
    if clamscan is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mamori-bench.ndb"
        db.write_text("Mamori.Bench.NeverMatches:0:*:6d616d6f72692d62656e63682d6e65766572\n", encoding="ascii")
        start = time.perf_counter()
        args = [clamscan, "--no-summary", "--infected", "--alert-encrypted=yes", "-d", str(db), "-r", str(corpus)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 (fixed arguments)
        elapsed = time.perf_counter() - start
    flagged = {int(Path(line.split(":", 1)[0]).stem[1:]) for line in proc.stdout.splitlines() if line.endswith("FOUND")}
    return elapsed, flagged


def run(n_messages: int = 2000, *, seed: int = 7, workers: int | None = None) -> dict[str, Any]:
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="mamori-bench-mail-") as tmp:
        corpus = Path(tmp)
        info = build_corpus(corpus, n_messages, seed=seed)
        encrypted = set(info["encrypted"])
        elapsed, flagged = run_mamori(corpus, workers)
        clam = run_clamav(corpus)
    result: dict[str, Any] = {
        "messages": n_messages, "mb": info["bytes"] / 1e6, "encrypted_messages": len(encrypted), "workers": workers,
        "messages_per_s": n_messages / elapsed, "mb_per_s": info["bytes"] / 1e6 / elapsed,
        "detected": len(flagged & encrypted), "false_positives": len(flagged - encrypted),
    }
    if clam is not None:
        clam_elapsed, clam_flagged = clam
        result.update({"clamav_messages_per_s": n_messages / clam_elapsed,
                       "clamav_mb_per_s": info["bytes"] / 1e6 / clam_elapsed,
                       "clamav_detected": len(clam_flagged & encrypted),
                       "clamav_false_positives": len(clam_flagged - encrypted)})
    return result
