"""``python -m promptrail``: the command line."""

import sys

from promptrail._cli import main

sys.exit(main())
