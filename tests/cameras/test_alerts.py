"""The alert outbox at a back-fill's end (``watch --once``): every pending alert gets one full try, even when the
receiver fails and the first alert waits to be tried again; what is still undelivered stays queued."""

from ripdetect.cameras.alerts import AlertSender
from ripdetect.cameras.database import STATE_NAME, StateStore
from ripdetect.config import AlertConfig
from tests.servers import WebhookReceiver


def test_each_pending_alert_gets_one_try_at_the_end_of_a_back_fill(tmp_path):
    hook = WebhookReceiver(fail_every=1)  # every call fails
    store = StateStore(tmp_path / STATE_NAME)
    sender = AlertSender(store, {"north": AlertConfig(webhook=hook.url, timeout_s=1.0)}, tmp_path).start()
    try:
        for event_id in (1, 2, 3):
            sender.queue("north", event_id, "start", {"camera": "north", "event_id": event_id}, 0.0)
        sender.stop(drain_s=0.0, each_once=True)
        attempts = [alert["attempts"] for alert in store.alerts("north")]
        assert all(a >= 1 for a in attempts), attempts
        assert hook.calls >= 3 and sender.pending() == 3  # tried, failed, kept for the next run
    finally:
        hook.close()
        store.close()


def test_without_the_back_fill_rule_a_failed_alert_holds_its_lane(tmp_path):
    """What the rule changes: a plain stop delivers in order, so the alerts behind a failed one wait."""
    hook = WebhookReceiver(fail_every=1)
    store = StateStore(tmp_path / STATE_NAME)
    sender = AlertSender(store, {"north": AlertConfig(webhook=hook.url, timeout_s=1.0)}, tmp_path).start()
    try:
        for event_id in (1, 2, 3):
            sender.queue("north", event_id, "start", {"camera": "north", "event_id": event_id}, 0.0)
        sender.stop(drain_s=0.6)
        assert sorted(alert["attempts"] for alert in store.alerts("north"))[:2] == [0, 0]
    finally:
        hook.close()
        store.close()
