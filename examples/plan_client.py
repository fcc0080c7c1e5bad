"""Run the original plan's test client from anywhere, e.g. from the repo root:

    python examples/plan_client.py [--url http://127.0.0.1:7862/v1/chat/completions]

test_emotion_classifier.py stays verbatim; it reads its prompt file from the current
directory and has its URL hard-coded, so this runs it in its own folder with --url put in.
"""

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "test_emotion_classifier.py"
PLAN_URL = 'API_URL = "http://localhost:7862/v1/chat/completions"'


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the plan's test client against a running service.")
    ap.add_argument("--url", default="http://localhost:7862/v1/chat/completions",
                    help="chat completions URL of the running service (default: the plan's)")
    args = ap.parse_args(argv)
    source = CLIENT.read_text(encoding="utf-8")
    if PLAN_URL not in source:
        sys.exit(f"{CLIENT}: its API_URL line changed; expected {PLAN_URL!r}")
    os.chdir(HERE)
    code = compile(source.replace(PLAN_URL, f"API_URL = {args.url!r}", 1), str(CLIENT), "exec")
    exec(code, {"__name__": "__main__"})


if __name__ == "__main__":
    main()
