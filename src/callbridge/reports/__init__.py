"""Supervisor reports: the live wallboard, agent timelines and historical reports.

`facts` and `calendar` are pure (what happened, and how time splits into local days and hours);
`aggregates` keeps the pre-aggregated tables in step with the logs; `queries` reads the reports;
`live` computes and publishes the wallboard. See docs/reports.md and docs/adr/0004-reports.md.
"""
