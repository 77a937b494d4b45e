"""Running ``fleetwatch`` in the test's own process (its database, its settings)."""

from fleetwatch import cli


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``fleetwatch *argv``."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err
