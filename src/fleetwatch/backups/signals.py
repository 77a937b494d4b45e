"""Signals of the backups app.

``run_closed(run)``: a run left ``ongoing`` (or a finished one was deleted), sent once per change
after the transaction commits. The time series (sizes and durations) and the checks listen."""

from django.dispatch import Signal

run_closed = Signal()
