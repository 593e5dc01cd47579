"""tests/fixtures/tokenizer_cases.jsonl.gz: reference WordPiece ids from HF `tokenizers`.

Each line: {"text": ..., "ids": [...]}  (no truncation, [CLS] ... [SEP] added)
a subset also has {"max_len": 128, "ids_truncated": [...]} (truncation to 128 incl. specials).
"""
import gzip
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from data import split  # noqa: E402
from tok import build_tokenizer  # noqa: E402

SEED = 1234
N_IMDB = 3000          # IMDB train texts (first 600 chars), deterministic sample
MAX_LEN = 128

REVIEW = ("This film is a quiet triumph: the performances are subtle, the score is haunting, "
          "and the final scene stayed with me for days. Not everything works, but it's worth it! ")

EDGE_CASES = [
    "", "a", "Z", ".", " ", "   ", "\t", "\n", "\r\n", " \t\n\r ",
    "I loved it 😍🎬", "😀", "👍🏽 great", "👨‍👩‍👧‍👦 family film", "🏳️‍🌈", "❤️❤️❤️", "👩🏿‍🚀 in space",
    "這部電影很好看", "我喜欢这部电影！", "映画はとても良かった", "カタカナ ひらがな", "ｶﾀｶﾅ",
    "이 영화 정말 좋아요", "هذا الفيلم رائع", "यह फिल्म बहुत अच्छी है", "หนังเรื่องนี้ดีมาก",
    "Café crème brûlée, naïve", "Cafe\u0301 cre\u0300me bru\u0302le\u0301e, nai\u0308ve",
    "ÉCOLE ÀÉÎÕÜ", "İstanbul ıi İI", "Straße STRASSE ß ẞ", "ﬁlm ﬂawless ﬀ", "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ １２３",
    "a\x00b", "a\x07b", "a\x1bb", "\x00\x07\x1b", "bad \ufffd char", "\ufffd",
    "a\u200bb\u0007c", "zero\u200bwidth", "join\u200dme", "\ufeffbom start", "soft\u00adhyphen",
    "private \ue000 use", "tag \U000e0080 char", "unassigned \u0378 cp", "line1\nline2\tcol\rend",
    "x" * 150, "ab" * 50, "a" * 100, "a" * 101, "supercalifragilisticexpialidocious " * 3,
    "!!!???...", "wow!!! really?! ...", "--- *** ###", "(a) [b] {c} <d>", "\"quoted\" 'single' `back`",
    "https://www.example.com/path?q=1&r=two#frag", "email me: someone@example.org",
    "1234567890", "3.14159 and 2,718 and 1e10", "$9.99 50% 10/10", "7/10 would watch again",
    "don't can't won't it's", "U.S.A. vs. U.K.", "C++ & C# & F#", "naïve résumé coöperate",
    "Ωmega αβγ ΔΕΖ", "Привет, мир! Фильм ХОРОШИЙ", "עברית טובה",
    "mixed 中文 and English 😍 words", "  leading and trailing spaces  ", "multiple     inner   spaces",
    "MiXeD CaSe WoRdS", "<br /> left in", "tab\tseparated\tvalues",
    "\u3000ideographic space\u3000", "non\u00a0breaking\u00a0space", "en\u2002em\u2003thin\u2009",
    "combining only \u0301\u0308", "math 𝔸𝔹ℂ 𝟙𝟚𝟛", "emoji 🏻 modifier alone", "keycap 1️⃣ #️⃣",
    "flags 🇫🇷🇯🇵", "arrows → ← ↑ ↓", "quotes “smart” ‘single’ «guillemets»", "dash – — ‐",
    "ellipsis … and bullet •", "ⅷ roman Ⅻ", "superscript x² H₂O", "℃ ℉ № ™ ©",
    (REVIEW * 1000)[:100000],
]


def main():
    vocab = os.path.join(REPO, "models", "vocab.txt")
    out = os.path.join(REPO, "tests", "fixtures", "tokenizer_cases.jsonl.gz")
    tok = build_tokenizer(vocab)
    tok_tr = build_tokenizer(vocab, max_len=MAX_LEN)
    train, _ = split()
    rt = [r["text"] for r in train if r["source"] == "rotten_tomatoes"]
    imdb = [r["text"][:600] for r in train if r["source"] == "imdb"]
    imdb = random.Random(SEED).sample(imdb, N_IMDB)
    texts = EDGE_CASES + rt + imdb
    enc = tok.encode_batch(texts)
    enc_tr = tok_tr.encode_batch(texts)
    n_trunc = 0
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as gz:
        for i, (t, e, et) in enumerate(zip(texts, enc, enc_tr)):
            rec = {"text": t, "ids": e.ids}
            # truncated variant for: all edge cases, every IMDB text, every 10th RT text
            if i < len(EDGE_CASES) or i >= len(EDGE_CASES) + len(rt) or i % 10 == 0:
                rec["max_len"] = MAX_LEN
                rec["ids_truncated"] = et.ids
                n_trunc += 1
                assert et.ids == (e.ids[: MAX_LEN - 1] + [3] if len(e.ids) > MAX_LEN else e.ids)
            gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"wrote {out}: {len(texts)} cases ({len(EDGE_CASES)} edge, {len(rt)} RT, {len(imdb)} IMDB), "
          f"{n_trunc} with ids_truncated, {os.path.getsize(out)/1e6:.2f} MB")


if __name__ == "__main__":
    main()
