"""`python -m analytics ...`: the command line (see analytics/cli.py)."""

import os
import sys

from analytics.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], default_cache_dir=os.environ.get("CHURNLENS_CACHE_DIR",
                                                                 ".cache")))
