"""Supervisor reports: the live wallboard, agent timelines and historical reports.

`facts` and `calendar` are pure (what happened, and how time splits into local days and hours);
`live` computes and publishes the wallboard. The store keeps the pre-aggregated tables in step with the logs
(`callbridge.store.report_aggregates`) and reads the reports (`callbridge.store.reports`). See docs/reports.md
and docs/adr/0004-reports.md.
"""
