"""Human-readable evaluation report and a confusion-matrix plot."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mood_tagger.evaluation.metrics import confusion
from mood_tagger.labels import EMOTION_TAGS

HEADLINE = ("emotion_strict", "emotion_lenient", "emotion_macro_f1", "celebrate_accuracy",
            "celebrate_precision", "celebrate_recall", "celebrate_f1")


def format_report(metrics: dict, title: str) -> str:
    lines = [f"{title}  (n = {metrics['n']})", ""]
    langs = list(metrics.get("by_lang", {}))
    header = f"{'metric':<22}{'all':>8}" + "".join(f"{lang:>8}" for lang in langs)
    lines += [header, "-" * len(header)]
    for key in HEADLINE:
        row = f"{key:<22}{metrics[key]:>8.3f}"
        row += "".join(f"{metrics['by_lang'][lang][key]:>8.3f}" for lang in langs)
        lines.append(row)
    if "celebrate_ece" in metrics:
        lines.append(f"{'calibration (ECE)':<22}emotion {metrics['emotion_ece']:.3f}, celebrate "
                     f"{metrics['celebrate_ece']:.3f} (Brier {metrics['celebrate_brier']:.3f})")
    if "latency_ms_p50" in metrics:
        lines.append(f"{'latency p50 / p99 ms':<22}{metrics['latency_ms_p50']:>8.3f}"
                     f"{metrics['latency_ms_p99']:>8.3f}")
    lines += ["", f"{'tag':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for tag, m in metrics["per_tag"].items():
        lines.append(f"{tag:<14}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>9d}")
    return "\n".join(lines)


def plot_confusion(gold: Sequence[str], pred: Sequence[str], path: str | Path, title: str) -> Path:
    try:
        import matplotlib
    except ImportError as exc:
        from mood_tagger.errors import InputError
        raise InputError("--plot needs matplotlib: pip install -e '.[train]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = confusion(gold, pred)
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(EMOTION_TAGS)), EMOTION_TAGS, rotation=60, ha="right")
    ax.set_yticks(range(len(EMOTION_TAGS)), EMOTION_TAGS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (emotion_name)")
    ax.set_title(title)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center",
                        color="white" if m[i, j] > m.max() / 2 else "black", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
