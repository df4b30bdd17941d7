"""Data retention: the texts of finished enrolments are removed after the clinic's period.

Per clinic (``Clinic.retention_days``, default 90), what patients and clinicians *wrote*
— message bodies, reply texts, auto-replies — and the patient's email address go; what
statistics and audits need stays: times, statuses, severities, categories, parsed
readings, concerns and who handled them. :mod:`reminders.retention.finished` says which
enrolments are due, :mod:`reminders.retention.service` removes their texts,
:mod:`reminders.retention.jobs` runs it periodically.
"""
