"""``python -m codehearth`` is the ``codehearth`` command."""

from codehearth.cli import main

raise SystemExit(main())
