"""Usage ledger, prices, costs and savings, the status line and metrics (issue 14).

Kept empty on purpose: `python -m hybridcc.usage.statusline` imports this package on every
status refresh, so nothing is imported here.
"""
