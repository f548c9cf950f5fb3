"""``python -m techins``: the same as the ``techins`` command."""

import sys

from techins.cli.main import main

sys.exit(main())
