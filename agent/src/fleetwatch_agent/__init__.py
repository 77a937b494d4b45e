"""fleetwatch-agent: a Linux host or station as a Fleetwatch device.

Modules, one concern each: :mod:`config` (the TOML file), :mod:`collect` (psutil → NetJSON
DeviceMonitoring), :mod:`enroll` (enrollment token → credentials in the state dir),
:mod:`queue` (the bounded on-disk queue of unsent reports), :mod:`http`, :mod:`mqtt` and
:mod:`amqp` (the channels), :mod:`commands` (opt-in remote commands, each sequence number run at
most once) and :mod:`main` (the loop and the command line). It never imports the server's
``fleetwatch`` package: it runs on other machines.
"""

__version__ = "0.1.0"
# What the agent calls itself to the server (status messages, enrollment, polls).
AGENT = f"fleetwatch-agent/{__version__}"
