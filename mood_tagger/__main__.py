"""`python -m mood_tagger …` is the `mood-tagger` command."""

import sys

from mood_tagger.cli import main

if __name__ == "__main__":
    sys.exit(main())
