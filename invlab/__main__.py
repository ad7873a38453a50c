"""``python -m invlab`` is the ``invlab`` command line (:mod:`invlab.cli`)."""
from .cli import main

raise SystemExit(main())
