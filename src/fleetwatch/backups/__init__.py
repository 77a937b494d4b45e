"""Database backup monitoring: backup jobs (the monitoring matrix), their runs and files, the
freshness/size, long-running and schedule checks, and the ways runners report
(``../../docs/backups.md``; facts from ``shared/reference/backups.md`` and ``job-pings.md``)."""
