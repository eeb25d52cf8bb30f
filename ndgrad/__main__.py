"""``python -m ndgrad``: the same as the ``ndgrad`` command."""
import sys

from ndgrad.cli import main

sys.exit(main())
