"""Notifications: reminder emails to the communes (compose, send, the sent-log)."""

from flows.notify.compose import compose, due_offset, needs_reminder, state_hash
from flows.notify.send import DRY_RUN, SENT, SentReminder, describe_smtp_error, send_reminders
from flows.notify.sentlog import LOG_FILE, SKIPPED_ALREADY_SENT, SKIPPED_SAME_STATE, SentLog

__all__ = ["DRY_RUN", "LOG_FILE", "SENT", "SKIPPED_ALREADY_SENT", "SKIPPED_SAME_STATE",
           "SentLog", "SentReminder", "compose", "describe_smtp_error", "due_offset",
           "needs_reminder", "send_reminders", "state_hash"]
