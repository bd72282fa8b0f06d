"""``python -m rlstar_theory`` runs the ``rlstar`` command line."""

from rlstar_theory.cli import main

raise SystemExit(main())
