"""``python -m seqtune``: the same as the ``seqtune`` command."""

import sys

from seqtune.cli import main

sys.exit(main())
