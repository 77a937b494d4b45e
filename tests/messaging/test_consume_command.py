"""``fleetwatch consume`` without device channels configured says so (exit status 2)."""

import pytest
from django.core.management import CommandError, call_command


def test_consume_refuses_to_start_without_a_broker(settings):
    settings.FLEETWATCH_CHANNELS_BROKER_URL = ""
    with pytest.raises(CommandError) as refused:
        call_command("consume")
    assert str(refused.value) == "FLEETWATCH_CHANNELS_BROKER_URL is not set: device channels are off"
    assert refused.value.returncode == 2
