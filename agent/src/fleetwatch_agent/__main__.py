"""``python -m fleetwatch_agent``: the same as the ``fleetwatch-agent`` command."""

from fleetwatch_agent.main import main

raise SystemExit(main())
