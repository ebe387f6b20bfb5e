"""An in-house tiers plugin package, as a team would write one.

- ``crm_export`` (source): support cases from a CRM report export (CSV with a preamble, US
  dates and a totals footer).
- ``complaint_rate`` (policy): caps the tier of customers who complain a lot per order.
- ``webhook_notify`` (action): a Slack-style webhook message per customer in chosen tiers.
"""

__version__ = "0.1.0"
