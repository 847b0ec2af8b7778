"""``python -m computesat`` is the ``computesat`` command."""

import sys

from computesat.cli import main

sys.exit(main())
