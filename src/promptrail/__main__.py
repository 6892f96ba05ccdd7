"""``python -m promptrail``: the command line."""

import sys

from promptrail.cli._main import main

sys.exit(main())
