"""Realistic request bodies for benchmarks (the original plan's three cases and longer ones)."""

from __future__ import annotations

import json

EXCHANGES = [
    ("Dạ, thủ đô của Việt Nam là Hà Nội ạ!",
     "Chính xác! Con thông minh lắm! Hà Nội là thủ đô của nước ta.", None),
    ("Tớ thích màu xanh nhất!", "Ồ, màu xanh đẹp thật! Màu xanh như bầu trời phải không?", None),
    ("2 + 2 bằng 5 ạ", "Ơ, chưa đúng rồi! Thử lại xem, 2 thêm 2 nữa là mấy nhỉ?", None),
    ("con meo keu meo meo a",
     "Đúng rồi, mèo kêu meo meo! Con có biết mèo ngủ tới 15 tiếng mỗi ngày không? Nhiều ghê "
     "luôn. Vậy con chó kêu thế nào nhỉ?",
     [{"role": "pika", "text": "Con mèo kêu thế nào nhỉ?"}]),
    ("I fell off my bike and my knee is bleeding",
     "Oh no, that sounds painful! Please tell a grown-up right away so they can clean it and "
     "put on a bandage. Are you okay?", None),
]


def tag_bodies() -> list[bytes]:
    out = []
    for user, pika, history in EXCHANGES:
        body: dict[str, object] = {"user_last_message": user, "pika_response": pika}
        if history:
            body["history"] = history
        out.append(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    return out


def chat_bodies() -> list[bytes]:
    return [json.dumps({"model": "microsoft/Phi-3-mini-4k-instruct", "temperature": 0,
                        "max_tokens": 50, "response_format": {"type": "json_object"},
                        "messages": [{"role": "system", "content": "You are a tagger."},
                                     {"role": "user", "content":
                                      f'[CONTEXT]\nuser_last_message: "{u}"\n'
                                      f'pika_response: "{p}"\n[OUTPUT]\n'}]},
                       ensure_ascii=False).encode("utf-8") for u, p, _ in EXCHANGES]
