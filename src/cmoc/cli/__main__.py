"""``python -m cmoc.cli``: the ``cmoc`` command."""

import sys

from . import main

__all__: list[str] = []

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
