"""``python -m techins``: the same as the ``techins`` command."""

import sys

from techins.cli import main

sys.exit(main())
