"""The messaging app's HTTP endpoints: the agents' channel (``agent.py``: poll and command log,
device key) and the REST API of commands for people (``views.py``; administrators only)."""
